"""Where the embedding model's files are: the default that installs with paperbot, or a local folder.

The default is all-MiniLM-L6-v2 (Apache-2.0) quantised to int8, shipped inside this package
(`model/model.onnx`, 23 MB, and `model/tokenizer.json`; how the file is made: `bench/_build_model.py`), so
`pip install` brings it and nothing is downloaded at run time. `[search] model` may instead name a local folder
holding `model.onnx` (or `onnx/model.onnx`) and `tokenizer.json`, e.g. another sentence-transformers model
exported to ONNX. Nothing here ever fetches anything: a name that is neither the default nor an existing folder
is reported as unavailable.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from bot.semantic.embedder import ModelUnavailable

__all__ = ["DEFAULT_MODEL", "ModelFiles", "locate_model"]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Names that mean the bundled default (what people copy from model cards).
_DEFAULT_ALIASES = frozenset({"", "default", DEFAULT_MODEL.lower(), f"sentence-transformers/{DEFAULT_MODEL}".lower()})
_BUNDLED = Path(__file__).resolve().parent / "model"
# The bundled file's checksum: a truncated or altered install is reported, never run.
_BUNDLED_SHA256 = "68beb7f38e0726ebf7ee6f283d9252f09d8af97415910d190bccdc979c30a888"
_ONNX_CANDIDATES = ("model.onnx", "onnx/model.onnx")
# all-MiniLM-L6-v2 was trained on 128-token pieces and reads up to 256; a title and abstract rarely need more.
DEFAULT_MAX_TOKENS = 256


@dataclass(frozen=True, slots=True)
class ModelFiles:
    """One runnable model: its ONNX graph, its tokenizer, the name its vectors are stored under."""

    name: str
    onnx: Path
    tokenizer: Path
    max_tokens: int = DEFAULT_MAX_TOKENS
    sha256: str | None = None  # checked on load when known (the bundled default)

    def verify(self) -> None:
        """Raise ModelUnavailable unless both files exist (and the ONNX file has the expected checksum)."""
        for path in (self.onnx, self.tokenizer):
            if not path.is_file():
                raise ModelUnavailable(f"the embedding model file {path} is missing")
        if self.sha256 is not None:
            digest = hashlib.sha256(self.onnx.read_bytes()).hexdigest()
            if digest != self.sha256:
                raise ModelUnavailable(f"the embedding model file {self.onnx} is damaged (checksum mismatch)")


def _default_files() -> ModelFiles:
    return ModelFiles(
        name=f"{DEFAULT_MODEL}-int8",
        onnx=_BUNDLED / "model.onnx",
        tokenizer=_BUNDLED / "tokenizer.json",
        sha256=_BUNDLED_SHA256,
    )


def _folder_files(folder: Path) -> ModelFiles:
    onnx = next((folder / c for c in _ONNX_CANDIDATES if (folder / c).is_file()), None)
    if onnx is None:
        found = sorted(folder.glob("*.onnx"))
        if len(found) != 1:
            raise ModelUnavailable(f"the model folder {folder} has no model.onnx (or onnx/model.onnx)")
        onnx = found[0]
    tokenizer = folder / "tokenizer.json"
    if not tokenizer.is_file():
        raise ModelUnavailable(f"the model folder {folder} has no tokenizer.json")
    return ModelFiles(name=folder.resolve().name, onnx=onnx, tokenizer=tokenizer)


def locate_model(setting: str = "") -> ModelFiles:
    """The files `[search] model` names: empty (or the default's name) → the bundled default, else a folder.

    Raises ModelUnavailable for anything else; a model is never downloaded.
    """
    text = setting.strip()
    if text.lower() in _DEFAULT_ALIASES:
        return _default_files()
    folder = Path(text).expanduser()
    if folder.is_dir():
        return _folder_files(folder)
    raise ModelUnavailable(
        f"[search] model = {text!r} is neither the bundled default ({DEFAULT_MODEL}) nor a local folder; "
        "paperbot never downloads models"
    )
