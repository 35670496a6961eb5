"""Paper vectors kept in a local folder: upsert/delete by paper id, top-k search, crash-safe commits.

Layout: immutable segments (`segments.py`) plus `manifest.json`, which names the live segments and the
deleted keys. Writes are staged in memory and become durable with `commit()`: the new segment's files are
written and fsynced under their final names first, then the manifest is replaced atomically (write a
temporary file, fsync, rename, fsync the folder). A crash at any point leaves either the old manifest or
the new one, each naming only complete files; files no manifest names are removed by the next writer.

Which row of a paper is current: the one in the newest segment that holds its key, unless the key was
deleted after that segment was written. Readers compute that once per reload (a boolean per row).

Search: every live row's sign code is compared with the query's (popcount over 48 bytes per row — ~10 ms at a
million rows on one core, measured in bench/), the nearest few hundred are re-scored exactly with their int8
rows, read from the memory-mapped file. Memory at a million papers: ~56 MB of codes and keys; the int8 rows
(384 MB) stay on disk. Recall against exact search is reported by the benchmark.

Concurrency: one writer process at a time (the caller holds the lease; a lock file also refuses a second
writer on the same folder), any number of readers, in any process, which call `refresh()` to see new commits.
Within a process, searches may run in several threads while one thread writes.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Self

import numpy as np
import numpy.typing as npt

from bot.semantic.quantize import dequantize, id_key, id_keys, quantize, sign_codes
from bot.semantic.segments import Segment, segment_files, write_segment

__all__ = ["StoreBusy", "VectorStore"]

FORMAT = 1
MANIFEST = "manifest.json"
_LOCK = "writer.lock"
MAX_SEGMENTS = 8  # beyond this a commit merges segments, so searches scan few arrays
_RELOAD_ATTEMPTS = 5


class StoreBusy(RuntimeError):
    """Another process holds this vector store's writer lock."""


@dataclass(frozen=True, slots=True)
class _Manifest:
    generation: int
    model: str
    dim: int
    segments: tuple[tuple[str, int], ...]  # (name, generation written)
    deleted: tuple[tuple[int, int], ...]  # (key, generation deleted)

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "generation": self.generation,
                "model": self.model,
                "dim": self.dim,
                "segments": [{"name": n, "generation": g} for n, g in self.segments],
                "deleted": [[str(k), g] for k, g in self.deleted],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> _Manifest:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError(f"unknown vector store format {data.get('format')!r}")
        return cls(
            generation=int(data["generation"]),
            model=str(data["model"]),
            dim=int(data["dim"]),
            segments=tuple((str(s["name"]), int(s["generation"])) for s in data["segments"]),
            deleted=tuple((int(k), int(g)) for k, g in data["deleted"]),
        )


def _fsync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class VectorStore:
    """Vectors by paper id in `folder`, for one embedding model; see the module docstring."""

    def __init__(self, folder: Path, model: str, dim: int, *, writable: bool, lock: IO[Any] | None) -> None:
        self.folder = folder
        self.model = model
        self.dim = dim
        self.writable = writable
        self._lock_file = lock
        self._state_lock = threading.RLock()
        self._manifest = _Manifest(0, model, dim, (), ())
        self._manifest_stamp: tuple[int, int, int] | None = None
        self._segments: list[Segment] = []
        self._staged: dict[str, npt.NDArray[np.float32] | None] = {}  # id → vector, None = delete

    # ---- opening ------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, folder: Path | str, *, model: str, dim: int, writable: bool = False) -> Self:
        """Open (a writer also creates) the store. Vectors of another model or size count as absent.

        A writer takes the folder's lock (StoreBusy if another process has it), starts afresh when the
        stored model differs, and removes files left by an interrupted commit.
        """
        folder = Path(folder)
        lock: IO[Any] | None = None
        if writable:
            folder.mkdir(parents=True, exist_ok=True)
            lock = (folder / _LOCK).open("a+")
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                lock.close()
                raise StoreBusy(f"another process is writing the vector store in {folder}") from exc
        store = cls(folder, model, dim, writable=writable, lock=lock)
        try:
            store.refresh()
            if writable:
                if store._manifest.model != model or store._manifest.dim != dim:
                    store._manifest = _Manifest(store._manifest.generation, model, dim, (), ())
                    store._segments = []
                    store._write_manifest(store._manifest)
                store._remove_unreferenced_files()
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        """Drop staged changes and release the writer lock (idempotent)."""
        self._staged.clear()
        with self._state_lock:
            segments, self._segments = self._segments, []
            self._manifest_stamp = None
        for segment in segments:
            segment.close()
        lock, self._lock_file = self._lock_file, None
        if lock is not None:
            lock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ---- reading the committed state ----------------------------------------------------------------------

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            stat = (self.folder / MANIFEST).stat()
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def refresh(self) -> bool:
        """Load the latest committed state if it changed since the last load; True if it did.

        A compaction in the writer may remove a segment between reading the manifest and opening the
        segment's files: the read is simply retried with the newer manifest.
        """
        for _attempt in range(_RELOAD_ATTEMPTS):
            stamp = self._stamp()
            if stamp == self._manifest_stamp:
                return False
            if stamp is None:
                manifest = _Manifest(0, self.model, self.dim, (), ())
            else:
                try:
                    manifest = _Manifest.from_json((self.folder / MANIFEST).read_text(encoding="utf-8"))
                except FileNotFoundError:
                    continue
            try:
                segments = self._load_segments(manifest)
            except OSError:
                continue
            with self._state_lock:
                old = self._segments
                self._manifest, self._segments, self._manifest_stamp = manifest, segments, stamp
            _close_later(old)
            return True
        raise OSError(f"the vector store in {self.folder} kept changing while being read")

    def _load_segments(self, manifest: _Manifest) -> list[Segment]:
        if manifest.model != self.model or manifest.dim != self.dim:
            return []
        segments = [Segment.load(self.folder, name, generation) for name, generation in manifest.segments]
        _mark_live(segments, manifest.deleted)
        return segments

    @property
    def count(self) -> int:
        """Papers with a committed vector."""
        with self._state_lock:
            return sum(s.live_count for s in self._segments)

    def _locate(self, paper_ids: Sequence[str]) -> list[tuple[Segment, int] | None]:
        keys = id_keys(paper_ids)
        found: list[tuple[Segment, int] | None] = [None] * len(paper_ids)
        with self._state_lock:
            for segment in self._segments:  # oldest first; a live row exists in at most one segment
                rows = segment.find(keys)
                for index, row in enumerate(rows):
                    if row >= 0 and segment.live[row]:
                        found[index] = (segment, int(row))
        return found

    def contains(self, paper_id: str) -> bool:
        """Whether the paper has a committed vector."""
        return self._locate([paper_id])[0] is not None

    def missing(self, paper_ids: Sequence[str]) -> list[str]:
        """Those of `paper_ids` without a committed vector, in order (what an embedding job still owes)."""
        return [paper_id for paper_id, hit in zip(paper_ids, self._locate(paper_ids), strict=True) if hit is None]

    def vector(self, paper_id: str) -> npt.NDArray[np.float32] | None:
        """The paper's committed vector (unit length), e.g. to find papers similar to it."""
        hit = self._locate([paper_id])[0]
        if hit is None:
            return None
        segment, row = hit
        vector: npt.NDArray[np.float32] = dequantize(segment.rows(np.array([row])))[0]
        return vector

    def search(
        self,
        query: npt.NDArray[np.floating],
        k: int = 10,
        *,
        exclude: Collection[str] = (),
        candidates: int = 400,
    ) -> list[tuple[str, float]]:
        """The `k` papers most similar to `query` (a unit vector) as (id, cosine), best first.

        `candidates` rows per segment pass the sign-code scan and are re-scored exactly; more means higher
        recall and a little more time (bench/ reports both).
        """
        if k <= 0:
            return []
        query = np.asarray(query, dtype=np.float32).reshape(-1)
        if query.shape[0] != self.dim:
            raise ValueError(f"query has {query.shape[0]} dimensions, the store holds {self.dim}")
        query_unit = dequantize(quantize(query))
        code = np.zeros(-(-self.dim // 64) * 8, dtype=np.uint8)
        packed = sign_codes(quantize(query))
        code[: len(packed)] = packed
        query_code = code.view(np.uint64)
        excluded = {id_key(i) for i in exclude}
        wanted = max(candidates, k + len(excluded))
        scored: list[tuple[float, str]] = []
        with self._state_lock:
            segments = list(self._segments)
        for segment in segments:
            rows = segment.candidates(query_code, wanted)
            if len(rows) == 0:
                continue
            rows = np.sort(rows)  # ascending offsets: the reads walk the file forwards
            similarities = dequantize(segment.rows(rows)) @ query_unit
            best = [int(rows[p]) for p in np.argsort(-similarities)[: k + len(excluded)]]
            best = [row for row in best if int(segment.keys[row]) not in excluded][:k]
            by_row = dict(zip(rows.tolist(), similarities.tolist(), strict=True))
            names = segment.paper_ids(np.array(best, dtype=np.intp))
            scored.extend((by_row[row], name) for row, name in zip(best, names, strict=True))
        scored.sort(key=lambda pair: (-pair[0], pair[1]))
        return [(paper_id, similarity) for similarity, paper_id in scored[:k]]

    # ---- writing ------------------------------------------------------------------------------------------

    def _require_writer(self) -> None:
        if not self.writable or self._lock_file is None:
            raise PermissionError("this vector store was opened read-only (or is closed)")

    def upsert(self, paper_ids: Sequence[str], vectors: npt.NDArray[np.floating]) -> None:
        """Stage vectors (rows in the order of `paper_ids`); durable and visible after `commit()`."""
        self._require_writer()
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(paper_ids), -1)
        if matrix.shape[1] != self.dim:
            raise ValueError(f"vectors have {matrix.shape[1]} dimensions, the store holds {self.dim}")
        for paper_id, row in zip(paper_ids, matrix, strict=True):
            self._staged[paper_id] = row

    def delete(self, paper_ids: Iterable[str]) -> None:
        """Stage removals; applied by `commit()`."""
        self._require_writer()
        for paper_id in paper_ids:
            self._staged[paper_id] = None

    @property
    def staged(self) -> int:
        """Changes waiting for `commit()`."""
        return len(self._staged)

    def commit(self) -> None:
        """Make staged changes durable and visible to every reader, atomically (see the module docstring)."""
        self._require_writer()
        if not self._staged:
            return
        manifest = self._manifest
        generation = manifest.generation + 1
        upserts = {i: v for i, v in self._staged.items() if v is not None}
        deletions = [i for i, v in self._staged.items() if v is None]
        segments = list(manifest.segments)
        if upserts:
            name = f"seg-{generation:08d}"
            write_segment(self.folder, name, list(upserts), np.vstack(list(upserts.values())))
            segments.append((name, generation))
        deleted = dict(manifest.deleted)
        deleted.update((id_key(i), generation) for i in deletions)
        for key in id_keys(upserts):  # a re-added paper is no longer deleted (its new row is newer anyway)
            deleted.pop(int(key), None)
        new = _Manifest(generation, self.model, self.dim, tuple(segments), tuple(sorted(deleted.items())))
        self._write_manifest(new)
        self._staged.clear()
        self.refresh()
        if len(self._segments) > MAX_SEGMENTS:
            self.compact()

    def compact(self) -> None:
        """Merge segments so searches scan few arrays; drops replaced and deleted rows.

        Merges everything except a dominant oldest segment (one holding more than twice the rest), so a
        day's few papers never cause a rewrite of the million-paper base.
        """
        self._require_writer()
        with self._state_lock:
            segments = list(self._segments)
            manifest = self._manifest
        if len(segments) <= 1:
            return
        first_live = segments[0].live_count
        rest_live = sum(s.live_count for s in segments[1:])
        merge = segments[1:] if first_live > 2 * rest_live and len(segments) > 2 else segments
        ids: list[str] = []
        parts: list[npt.NDArray[np.int8]] = []
        for segment in merge:
            for start in range(0, len(segment), 65_536):
                rows = start + np.flatnonzero(segment.live[start : start + 65_536])
                ids.extend(segment.paper_ids(rows))
                parts.append(segment.rows(rows))  # int8 as stored: no re-quantizing, a quarter of the memory
        generation = manifest.generation + 1
        merged_names = {s.name for s in merge}
        kept = [(n, g) for n, g in manifest.segments if n not in merged_names]
        if ids:
            name = f"seg-{generation:08d}"
            write_segment(self.folder, name, ids, np.vstack(parts))
            kept.append((name, generation))
        oldest_kept = min((g for _n, g in kept), default=generation)
        # Deletions only matter for rows older than them; once no such segment is left, forget them.
        deleted = tuple((k, g) for k, g in manifest.deleted if g > oldest_kept)
        self._write_manifest(_Manifest(generation, self.model, self.dim, tuple(kept), deleted))
        self.refresh()
        self._remove_unreferenced_files()

    def _write_manifest(self, manifest: _Manifest) -> None:
        temporary = self.folder / f".tmp-{MANIFEST}"
        with temporary.open("w", encoding="utf-8") as out:
            out.write(manifest.to_json())
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.folder / MANIFEST)
        _fsync_folder(self.folder)

    def _remove_unreferenced_files(self) -> None:
        """Delete segment files and temporaries no manifest names (left by a crash or a compaction).

        Readers that still have a removed segment mapped keep reading it (Linux keeps an unlinked file's data
        until the last mapping closes); new readers follow the manifest to the current files.
        """
        referenced = {path.name for name, _g in self._manifest.segments for path in segment_files(self.folder, name)}
        for path in self.folder.iterdir():
            if path.name in (MANIFEST, _LOCK) or path.name in referenced:
                continue
            if path.name.startswith((".tmp-", "seg-")):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


def _close_later(segments: Sequence[Segment]) -> None:
    """Segments replaced by a reload: their files close when the last search using them lets go.

    A search copies the segment list before scanning, so closing here could pull files from under it;
    Python closes each file when its last reference goes, which is exactly when that search is done.
    """
    del segments


def _mark_live(segments: Sequence[Segment], deleted: Sequence[tuple[int, int]]) -> None:
    """Each key's current row: the newest segment holding it, unless deleted later than that segment."""
    newer_keys: npt.NDArray[np.uint64] = np.zeros(0, dtype=np.uint64)
    deleted_keys = np.array([k for k, _g in deleted], dtype=np.uint64)
    deleted_at = np.array([g for _k, g in deleted], dtype=np.int64)
    order = np.argsort(deleted_keys)
    deleted_keys, deleted_at = deleted_keys[order], deleted_at[order]
    for segment in reversed(segments):
        live = ~np.isin(segment.keys, newer_keys)
        # Within one segment a key appears once (a commit writes each staged id once).
        if len(deleted_keys):
            position = np.searchsorted(deleted_keys, segment.keys)
            position = np.minimum(position, len(deleted_keys) - 1)
            hit = deleted_keys[position] == segment.keys
            live &= ~(hit & (deleted_at[position] > segment.generation))
        segment.live = live
        newer_keys = np.union1d(newer_keys, segment.keys)
