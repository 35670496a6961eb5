"""What semantic search needs from an embedding model, independent of how the model runs.

An `Embedder` turns text into unit-length vectors whose dot product is their cosine similarity. Queries take
a fast path (one short text, answered on a slash command's clock); documents are embedded in small batches
by a background job. Any failure to load or run the model surfaces as `ModelUnavailable`, so callers have
one thing to catch before falling back to keyword ranking.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

__all__ = ["Embedder", "Matrix", "ModelUnavailable", "Vector", "document_text"]

Vector = npt.NDArray[np.float32]  # shape (dim,), L2-normalised
Matrix = npt.NDArray[np.float32]  # shape (n, dim), each row L2-normalised


class ModelUnavailable(RuntimeError):
    """The embedding model is missing, unreadable or failed; search falls back to keyword ranking.

    The message is one line fit for a log and a reply ("the semantic model is not installed: …").
    """


@runtime_checkable
class Embedder(Protocol):
    """Text → unit vectors. Implementations load lazily, never download, and are safe to share by threads."""

    @property
    def name(self) -> str:
        """Which model this is (stored beside vectors, so vectors of another model are never mixed in)."""
        ...

    @property
    def dim(self) -> int:
        """Vector length; loads the model if needed."""
        ...

    def embed_query(self, text: str) -> Vector:
        """One search query → one vector (the latency-critical path)."""
        ...

    def embed_documents(self, texts: Sequence[str]) -> Matrix:
        """Several documents → one row each, in order; memory stays bounded whatever the count."""
        ...


def document_text(title: str, abstract: str | None) -> str:
    """What a paper's vector is computed from: its title, then its abstract (the model reads ~256 tokens)."""
    title = " ".join(title.split())
    abstract = " ".join((abstract or "").split())
    return f"{title}. {abstract}" if abstract else title
