"""Semantic search parts: an offline sentence-embedding model, a local vector store, and rank fusion.

Nothing here touches the catalogue or Discord: the search service feeds papers in and asks for rankings.
"""

from bot.semantic.embedder import Embedder, Matrix, ModelUnavailable, Vector, document_text
from bot.semantic.model_files import DEFAULT_MODEL, ModelFiles, locate_model
from bot.semantic.onnx_embedder import OnnxEmbedder

__all__ = [
    "DEFAULT_MODEL",
    "Embedder",
    "Matrix",
    "ModelFiles",
    "ModelUnavailable",
    "OnnxEmbedder",
    "Vector",
    "document_text",
    "locate_model",
]
