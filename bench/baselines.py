"""The comparison points the benchmark measures paperbot against, each on the same synthetic corpus.

* `floor_import`: the least any importer must do — read and parse the same file, then `executemany`
  (id, title, abstract, authors) into one FTS5 table in one transaction. paperbot's import must be at least
  this fast (records/s).
* `Fts5Raw`: the naive design — one FTS5 table, `ORDER BY bm25()` over every match — on the floor's rows.
* `TantivyBaseline`: what a user would pick for search: tantivy-py with its query parser, title boosted.
* `NaiveScan`: a linear scan in the style of arxiv-sanity-lite's search (count query words in title,
  authors and abstract of every paper, sort by score), run at ≤100k papers because it is O(N) per query.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tantivy

from bot.search.terms import Term, parse_query

FLOOR_BATCH = 50_000


def _records(path: Path) -> Iterator[dict[str, Any]]:
    with open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def floor_import(snapshot: Path, db_path: Path) -> dict[str, float]:
    """Read+parse `snapshot` and executemany it into one FTS5 table in one transaction; return timings."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("CREATE VIRTUAL TABLE papers USING fts5 (id UNINDEXED, title, abstract, authors)")
    db.execute("BEGIN")
    rows = 0
    batch: list[tuple[str, str, str, str]] = []
    for record in _records(snapshot):
        batch.append((record["id"], record["title"], record["abstract"], record["authors"]))
        if len(batch) >= FLOOR_BATCH:
            db.executemany("INSERT INTO papers (id, title, abstract, authors) VALUES (?, ?, ?, ?)", batch)
            rows += len(batch)
            batch.clear()
    db.executemany("INSERT INTO papers (id, title, abstract, authors) VALUES (?, ?, ?, ?)", batch)
    rows += len(batch)
    db.execute("COMMIT")
    db.close()
    seconds = time.perf_counter() - started
    return {"records": rows, "seconds": seconds, "rate": rows / seconds}


class Fts5Raw:
    """Raw FTS5 BM25 top-k over the floor table (same all-words-then-any-word rule as paperbot)."""

    def __init__(self, db_path: Path) -> None:
        self._db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)

    def search(self, query: str, limit: int = 10) -> list[str]:
        """Ids of the best `limit` matches."""
        terms = parse_query(query)
        if not terms:
            return []
        for expression in (match_all(terms), match_any(terms)):
            rows = self._db.execute(
                "SELECT id FROM papers WHERE papers MATCH ? ORDER BY bm25(papers, 0, 10.0, 1.0, 3.0) LIMIT ?",
                (expression, limit),
            ).fetchall()
            if rows:
                return [r[0] for r in rows]
        return []

    def close(self) -> None:
        """Close the connection."""
        self._db.close()


class TantivyBaseline:
    """tantivy-py used the way its README shows: default tokenizer, query parser, title boosted."""

    FIELDS = ("title", "abstract", "authors")

    def __init__(self, index_dir: Path) -> None:
        self.index = tantivy.Index.open(str(index_dir))
        self.index.reload()
        self._searcher = self.index.searcher()

    @staticmethod
    def build(snapshot: Path, index_dir: Path, *, heap_bytes: int = 200_000_000) -> dict[str, float]:
        """Index the snapshot; return timings."""
        shutil.rmtree(index_dir, ignore_errors=True)
        index_dir.mkdir(parents=True)
        builder = tantivy.SchemaBuilder()
        builder.add_text_field("id", stored=True, tokenizer_name="raw")
        for name in TantivyBaseline.FIELDS:
            builder.add_text_field(name)
        index = tantivy.Index(builder.build(), path=str(index_dir))
        started = time.perf_counter()
        writer = index.writer(heap_size=heap_bytes, num_threads=2)
        rows = 0
        for record in _records(snapshot):
            writer.add_document(
                tantivy.Document(
                    id=record["id"], title=record["title"], abstract=record["abstract"], authors=record["authors"]
                )
            )
            rows += 1
        writer.commit()
        writer.wait_merging_threads()
        seconds = time.perf_counter() - started
        return {"records": rows, "seconds": seconds, "rate": rows / seconds}

    def search(self, query: str, limit: int = 10) -> list[str]:
        """Ids of the best `limit` matches: all words first, then any word."""
        text = query.replace("*", " ")  # the parser has no single-term prefix syntax; search the stem
        for conjunction in (True, False):
            parsed, _errors = self.index.parse_query_lenient(
                text, list(self.FIELDS), field_boosts={"title": 3.0}, conjunction_by_default=conjunction
            )
            hits = self._searcher.search(parsed, limit, count=False).hits
            if hits:
                return [self._searcher.doc(address)["id"][0] for _score, address in hits]
        return []


class NaiveScan:
    """arxiv-sanity-lite style: score every paper by query-word counts in title, authors and abstract."""

    def __init__(self, snapshot: Path, max_papers: int) -> None:
        self.papers: list[tuple[str, str, str, str]] = []
        for record in _records(snapshot):
            if len(self.papers) >= max_papers:
                break
            self.papers.append(
                (record["id"], record["title"].lower(), record["authors"].lower(), record["abstract"].lower())
            )

    def search(self, query: str, limit: int = 10) -> list[str]:
        """Ids of the best `limit` papers by the count-based score."""
        words = [w.strip('"*') for w in query.lower().split()]
        words = [w for w in words if w]
        if not words:
            return []
        scored: list[tuple[float, str]] = []
        for pid, title, authors, abstract in self.papers:
            score = 0.0
            for w in words:
                score += 20.0 * (w in title) + 10.0 * (w in authors) + min(3, abstract.count(w))
            if score > 0:
                scored.append((score, pid))
        scored.sort(reverse=True)
        return [pid for _, pid in scored[:limit]]


def _fts_literal(term: Term) -> str:
    """A term as an FTS5 string literal (always quoted, so never parsed as syntax)."""
    body = " ".join(term.words).replace('"', '""')
    return f'"{body}"' + ("*" if term.prefix else "")


def match_all(terms: list[Term]) -> str:
    """An FTS5 expression requiring every term (the raw-FTS5 baseline)."""
    return " AND ".join(_fts_literal(term) for term in terms)


def match_any(terms: list[Term]) -> str:
    """An FTS5 expression requiring at least one term (the raw-FTS5 baseline)."""
    return " OR ".join(_fts_literal(term) for term in terms)
