"""Semantic search parts: an offline sentence-embedding model, a local vector store, and rank fusion.

Nothing here touches the catalogue or Discord: the search service feeds papers in and asks for rankings.
"""

from bot.semantic.embedder import Embedder, Matrix, ModelUnavailable, Vector, document_text
from bot.semantic.fusion import DEFAULT_WEIGHTS, FusionWeights, Matched, fuse, reciprocal_rank_fusion
from bot.semantic.model_files import DEFAULT_MODEL, ModelFiles, locate_model
from bot.semantic.onnx_embedder import OnnxEmbedder
from bot.semantic.vector_store import StoreBusy, VectorStore

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_WEIGHTS",
    "Embedder",
    "FusionWeights",
    "Matched",
    "Matrix",
    "ModelFiles",
    "ModelUnavailable",
    "OnnxEmbedder",
    "StoreBusy",
    "Vector",
    "VectorStore",
    "document_text",
    "fuse",
    "locate_model",
    "reciprocal_rank_fusion",
]
