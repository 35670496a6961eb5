"""Papers this process has just written, by change-log entry, so its own follower need not read them back.

A snapshot import writes millions of new rows, and the process that imports usually also holds the search
index's lease (`paperbot import` with no bot running), so its follower reads every one of them back from
SQLite — full rows, JSON columns decoded, one `Paper` each — while the import is still parsing under the same
GIL: about a third of the import's Python time (bench/README.md, issue 9). The importer has each new row in
hand already. After the batch's transaction has committed, it leaves the rows here under the sequence numbers
their log entries got; `changes_after` takes a paper from here instead of the database when the entry it
resolves is one of these.

Why the result is still exactly what applying the log gives: an entry remembered here is the row as that
very entry's transaction wrote it. The paper may have changed since (another process's write), but every
change appends its own, later entry, and a follower resolves each paper by its newest entry in a batch, so
the later version always wins — the same final index as reading every row afresh. Only new rows are
remembered (an update's row merges stored values the importer does not hold), and only papers named once in
their batch.

Entries are remembered just before the transaction commits — after it, the follower often read the new
entries first (a race lost on ~1 batch in 5, measured) — and forgotten if it does not commit. A rolled-back
transaction's sequence numbers may be reused by another process's write, so an entry is used only when the
log row at that number names the same paper *and* carries the same `at` stamp (the import's own start time,
to the microsecond): a reused number never matches.

Memory is bounded: at most `capacity` papers, the oldest batches forgotten first, and entries a follower has
read are dropped. Anything not here is simply read from the database, as before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

from bot.models import Paper

__all__ = ["RecentWrites"]

DEFAULT_CAPACITY = 40_000  # papers: a few import batches (~1.5 KB each), enough for a follower a little behind


class RecentWrites:
    """Recently committed new rows of this process, by change-log sequence number (see the module docstring)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        # (first seq, last seq, the entries' `at` stamp, paper by seq), oldest first
        self._batches: deque[tuple[int, int, str, dict[int, Paper]]] = deque()
        self._size = 0

    @property
    def newest(self) -> int:
        """The highest sequence number remembered (0 when nothing is)."""
        return self._batches[-1][1] if self._batches else 0

    def remember(self, entries: Sequence[tuple[int, Paper]], stamp: str) -> None:
        """Keep (sequence number, paper as written) pairs of one transaction, whose entries carry `stamp`."""
        if not entries or self.capacity <= 0:
            return
        by_seq = dict(entries)
        self._batches.append((min(by_seq), max(by_seq), stamp, by_seq))
        self._size += len(by_seq)
        while self._size > self.capacity:
            dropped = self._batches.popleft()
            self._size -= len(dropped[3])

    def forget(self, seqs: Sequence[int]) -> None:
        """Drop what was remembered under these numbers (their transaction did not commit)."""
        doomed = set(seqs)
        kept = [batch for batch in self._batches if not doomed.intersection(batch[3])]
        self._batches = deque(kept)
        self._size = sum(len(batch[3]) for batch in kept)

    def get(self, seq: int, paper_id: str, stamp: str) -> Paper | None:
        """The paper entry `seq` logged, if remembered here and the entry matches (same paper, same stamp)."""
        for first, last, remembered_stamp, by_seq in self._batches:
            if first <= seq <= last:
                paper = by_seq.get(seq)
                if paper is None or paper.id != paper_id or remembered_stamp != stamp:
                    return None
                return paper
        return None

    def forget_through(self, seq: int) -> None:
        """Drop every batch whose entries are all at or below `seq` (a follower has read past them)."""
        while self._batches and self._batches[0][1] <= seq:
            dropped = self._batches.popleft()
            self._size -= len(dropped[3])

    def __len__(self) -> int:
        return self._size
