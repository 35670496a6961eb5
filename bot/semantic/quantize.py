"""How vectors are stored compactly: int8 for scoring, sign bits for a fast first pass, 64-bit keys for ids.

- int8: each unit-vector component × 127, rounded. Scores keep their order almost exactly (the notes measured
  int8 and fp32 MiniLM vectors at cosine 0.9995), at a quarter of float32's size.
- Sign bits: one bit per component (48 bytes for 384 dims). Hamming distance between sign codes tracks
  the angle between vectors, so a scan of all codes picks a few hundred candidates that int8 then re-scores;
  at a million papers the codes are 48 MB, small enough to keep in memory, while the int8 rows stay on disk
  (memory-mapped) and only candidates' rows are read.
- Keys: the first 8 bytes of BLAKE2b of the paper id. Ids are compared as keys; at 10 million papers the
  chance of any two keys colliding is ~3e-6.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

__all__ = ["dequantize", "id_key", "id_keys", "quantize", "sign_codes"]

SCALE = 127.0


def quantize(vectors: npt.NDArray[np.floating]) -> npt.NDArray[np.int8]:
    """Unit vectors (rows) → int8 rows."""
    scaled = np.clip(np.rint(np.asarray(vectors, dtype=np.float32) * SCALE), -127, 127)
    return np.asarray(scaled, dtype=np.int8)


def dequantize(rows: npt.NDArray[np.int8]) -> npt.NDArray[np.float32]:
    """int8 rows → unit float32 rows (re-normalised, so dot products are cosines)."""
    values = rows.astype(np.float32)
    norms = np.linalg.norm(values, axis=-1, keepdims=True)
    return np.asarray(values / np.maximum(norms, 1e-12), dtype=np.float32)


def sign_codes(vectors: npt.NDArray[np.floating] | npt.NDArray[np.int8]) -> npt.NDArray[np.uint8]:
    """Rows → packed sign bits (dim / 8 bytes per row)."""
    return np.packbits(np.asarray(vectors) > 0, axis=-1)


def id_key(paper_id: str) -> int:
    """The 64-bit key a paper id is stored under."""
    return int.from_bytes(hashlib.blake2b(paper_id.encode("utf-8"), digest_size=8).digest(), "little")


def id_keys(paper_ids: Iterable[str]) -> npt.NDArray[np.uint64]:
    """Keys for many ids, as an array."""
    return np.fromiter((id_key(i) for i in paper_ids), dtype=np.uint64)
