"""Sentence embeddings with onnxruntime and a Hugging Face `tokenizers` tokenizer — no PyTorch.

Measured on 2 cores (bench/README.md, "Semantic search"): the bundled all-MiniLM-L6-v2 int8 answers a query in
~2 ms of CPU and adds ~55 MB RSS, where the same model through sentence-transformers/torch adds ~700 MB and a
1.5 GB install, with the same retrieval quality.

Design choices:
- Lazy: nothing is read until the first embedding (or `load()`), so a bot whose model is broken still starts
  and serves keyword search; a failed load is remembered and re-raised as the same `ModelUnavailable` without
  retrying on every query.
- One ONNX session, one intra-op thread: every `run` executes on its caller's thread, so a query from a slash
  command and a background document batch run side by side instead of queueing, and the background job never
  takes both cores. onnxruntime's CPU memory arena is off: with it, memory grew by ~1.2 GB at batch 32 and
  was never given back.
- Documents go in small batches (default 1: on 2 cores bigger batches were *slower*, padding costs more than
  batching saves), so memory is bounded whatever the number of texts; afterwards the C heap's freed pages are
  handed back to the system (glibc keeps them otherwise: measured +50 MB RSS per 100 abstracts, 0 after).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bot.semantic.embedder import Matrix, ModelUnavailable, Vector
from bot.semantic.model_files import ModelFiles, locate_model

__all__ = ["OnnxEmbedder"]


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None on other C libraries (musl, macOS), where there is nothing to do."""
    name = ctypes.util.find_library("c")
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    return trim


def _release_freed_memory() -> None:
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class _Loaded:
    """The model once loaded: the session, the tokenizer and what the graph expects."""

    def __init__(self, session: Any, tokenizer: Any, input_names: frozenset[str], dim: int) -> None:
        self.session = session
        self.tokenizer = tokenizer
        self.input_names = input_names
        self.dim = dim


class OnnxEmbedder:
    """An `Embedder` running a sentence-transformers model exported to ONNX (mean pooling, L2 norm)."""

    def __init__(self, model: str | ModelFiles = "", *, threads: int = 1, batch_size: int = 1) -> None:
        self._setting = model
        self._threads = max(1, threads)
        self._batch_size = max(1, batch_size)
        self._lock = threading.Lock()
        self._loaded: _Loaded | None = None
        self._failure: ModelUnavailable | None = None
        self._name = model.name if isinstance(model, ModelFiles) else None

    # ---- loading ------------------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        """The model's name (resolving the files, not loading the weights)."""
        if self._name is None:
            self._name = self._files().name
        return self._name

    def _files(self) -> ModelFiles:
        return self._setting if isinstance(self._setting, ModelFiles) else locate_model(self._setting)

    def load(self) -> None:
        """Load now (e.g. at start-up, off the event loop); raises ModelUnavailable."""
        self._model()

    def _model(self) -> _Loaded:
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._lock:
            if self._loaded is not None:
                return self._loaded
            if self._failure is not None:
                raise self._failure
            try:
                self._loaded = self._load()
            except ModelUnavailable as exc:
                self._failure = exc
                raise
            return self._loaded

    def _load(self) -> _Loaded:
        files = self._files()
        self._name = files.name
        files.verify()
        try:
            import onnxruntime as ort  # type: ignore[import-untyped]  # ships no type information
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise ModelUnavailable(f"the embedding runtime is not installed ({exc.name})") from exc
        try:
            tokenizer = Tokenizer.from_file(str(files.tokenizer))
            tokenizer.enable_truncation(files.max_tokens)
            tokenizer.no_padding()
            options = ort.SessionOptions()
            options.intra_op_num_threads = self._threads
            options.inter_op_num_threads = 1
            options.enable_cpu_mem_arena = False
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            options.log_severity_level = 3
            session = ort.InferenceSession(str(files.onnx), options, providers=["CPUExecutionProvider"])
            input_names = frozenset(i.name for i in session.get_inputs())
            if "input_ids" not in input_names:
                raise ModelUnavailable(f"{files.onnx} does not take input_ids: not a text embedding model")
            loaded = _Loaded(session, tokenizer, input_names, 0)
            loaded.dim = int(self._run(loaded, ["dimension probe"]).shape[1])
        except ModelUnavailable:
            raise
        except Exception as exc:  # onnxruntime and tokenizers raise their own exception types
            raise ModelUnavailable(f"the embedding model {files.name} failed to load: {exc}") from exc
        return loaded

    # ---- embedding ----------------------------------------------------------------------------------------

    @property
    def dim(self) -> int:
        """Vector length (384 for all-MiniLM-L6-v2)."""
        return self._model().dim

    def embed_query(self, text: str) -> Vector:
        """One query → one unit vector."""
        vector: Vector = self._embed([text])[0]
        return vector

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        """Documents → one unit vector per row, `batch_size` texts per model call."""
        model = self._model()
        if not texts:
            return np.zeros((0, model.dim), dtype=np.float32)
        rows = [self._embed(texts[i : i + self._batch_size]) for i in range(0, len(texts), self._batch_size)]
        _release_freed_memory()
        return np.vstack(rows)

    def _embed(self, texts: Sequence[str]) -> Matrix:
        model = self._model()
        try:
            return self._run(model, texts)
        except Exception as exc:
            raise ModelUnavailable(f"the embedding model failed on input: {exc}") from exc

    @staticmethod
    def _run(model: _Loaded, texts: Sequence[str]) -> Matrix:
        encodings = model.tokenizer.encode_batch([t if t.strip() else "." for t in texts])
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in model.input_names:
            feed["token_type_ids"] = np.zeros_like(ids)
        feed = {k: v for k, v in feed.items() if k in model.input_names}
        output = np.asarray(model.session.run(None, feed)[0], dtype=np.float32)
        if output.ndim == 3:  # token vectors: mean over the real (unpadded) tokens
            weights = mask[..., None].astype(np.float32)
            output = (output * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        norms = np.linalg.norm(output, axis=1, keepdims=True)
        return np.asarray(output / np.maximum(norms, 1e-12), dtype=np.float32)
