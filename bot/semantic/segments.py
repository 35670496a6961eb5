"""One immutable batch of stored vectors ("segment"): four .npy files written once, then only read.

Files of segment `seg-00000007` in the store folder:
  seg-00000007.ids.npy    paper ids (fixed-width UTF-8 bytes)      memory-mapped
  seg-00000007.keys.npy   64-bit keys of the ids (quantize.id_key)  in memory, with a sorted index
  seg-00000007.i8.npy     int8 vectors, one row per id             memory-mapped: only candidates are read
  seg-00000007.codes.npy  packed sign bits, one row per id         in memory: every search scans them

Writing goes to hidden temporary names, is flushed to disk (fsync), and only then renamed into place, so a
file under its final name is always complete; the store's manifest names a segment only after that.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from bot.semantic.quantize import id_keys, quantize, sign_codes

__all__ = ["ID_BYTES", "Segment", "segment_files", "write_segment"]

ID_BYTES = 32  # arXiv ids are ≤ 20 characters ("solv-int/9901001"); longer ids are refused, not truncated
_SUFFIXES = ("ids", "keys", "i8", "codes")
_SCAN_CHUNK = 131_072  # rows per popcount step: bounds the scan's temporary memory to a few MB


def segment_files(folder: Path, name: str) -> list[Path]:
    """Every file that belongs to segment `name`."""
    return [folder / f"{name}.{suffix}.npy" for suffix in _SUFFIXES]


def _fsync_write(path: Path, array: npt.NDArray[np.generic]) -> None:
    temporary = path.with_name(f".tmp-{path.name}")
    with temporary.open("wb") as out:
        np.save(out, array, allow_pickle=False)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)


def write_segment(folder: Path, name: str, ids: Sequence[str], vectors: npt.NDArray[np.floating]) -> None:
    """Write a complete segment for these ids and unit vectors (same order); files appear only when whole."""
    encoded = [paper_id.encode("utf-8") for paper_id in ids]
    if any(len(raw) > ID_BYTES for raw in encoded):
        raise ValueError(f"paper ids longer than {ID_BYTES} bytes cannot be stored")
    rows = quantize(vectors)
    arrays: dict[str, npt.NDArray[np.generic]] = {
        "ids": np.array(encoded, dtype=f"S{ID_BYTES}"),
        "keys": id_keys(ids),
        "i8": rows,
        "codes": sign_codes(rows),
    }
    for suffix, path in zip(_SUFFIXES, segment_files(folder, name), strict=True):
        _fsync_write(path, arrays[suffix])


@dataclass(eq=False)
class Segment:
    """A loaded segment; `live` marks the rows that no newer segment or deletion has replaced."""

    name: str
    generation: int
    ids: npt.NDArray[np.bytes_]
    keys: npt.NDArray[np.uint64]
    rows: npt.NDArray[np.int8]
    codes: npt.NDArray[np.uint64]
    order: npt.NDArray[np.intp]  # argsort of keys, for lookups
    live: npt.NDArray[np.bool_]

    @classmethod
    def load(cls, folder: Path, name: str, generation: int) -> Segment:
        """Open a segment's files (raises OSError if one is missing — e.g. removed by a compaction)."""
        ids_path, keys_path, rows_path, codes_path = segment_files(folder, name)
        ids = np.load(ids_path, mmap_mode="r", allow_pickle=False)
        keys = np.load(keys_path, allow_pickle=False)
        rows = np.load(rows_path, mmap_mode="r", allow_pickle=False)
        packed = np.load(codes_path, allow_pickle=False)
        if not (len(ids) == len(keys) == len(rows) == len(packed)):
            raise OSError(f"segment {name} is inconsistent (row counts differ)")
        width = packed.shape[1] if packed.ndim == 2 else 0
        padded = np.zeros((len(packed), -(-width // 8) * 8), dtype=np.uint8)
        padded[:, :width] = packed
        return cls(
            name=name,
            generation=generation,
            ids=ids,
            keys=keys,
            rows=rows,
            codes=padded.view(np.uint64),
            order=np.argsort(keys, kind="stable"),
            live=np.ones(len(keys), dtype=bool),
        )

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def live_count(self) -> int:
        """Rows still current."""
        return int(self.live.sum())

    def find(self, keys: npt.NDArray[np.uint64]) -> npt.NDArray[np.intp]:
        """Row of each key in this segment (the last row if written twice), -1 where absent."""
        if len(self.keys) == 0:
            return np.full(len(keys), -1, dtype=np.intp)
        sorted_keys = self.keys[self.order]
        right = np.searchsorted(sorted_keys, keys, side="right")
        found = (right > 0) & (sorted_keys[np.maximum(right - 1, 0)] == keys)
        return np.where(found, self.order[np.maximum(right - 1, 0)], -1)

    def candidates(self, query_code: npt.NDArray[np.uint64], count: int) -> npt.NDArray[np.intp]:
        """Up to `count` live rows nearest the query by Hamming distance of sign codes (unordered)."""
        distances = np.empty(len(self.codes), dtype=np.uint16)
        for start in range(0, len(self.codes), _SCAN_CHUNK):
            chunk = self.codes[start : start + _SCAN_CHUNK]
            distances[start : start + len(chunk)] = np.bitwise_count(chunk ^ query_code).sum(axis=1, dtype=np.uint16)
        distances[~self.live] = np.iinfo(np.uint16).max
        live = self.live_count
        count = min(count, live)
        if count <= 0:
            return np.zeros(0, dtype=np.intp)
        if count >= len(distances):
            picked = np.arange(len(distances))
        else:
            picked = np.argpartition(distances, count - 1)[:count]
        return picked[self.live[picked]]

    def paper_id(self, row: int) -> str:
        """The paper id stored in `row`."""
        return bytes(self.ids[row]).decode("utf-8")
