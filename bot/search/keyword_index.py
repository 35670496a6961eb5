"""The keyword index: a tantivy full-text index of the catalogue's papers, for search and autocomplete.

Why tantivy: FTS5 ranks by scoring *every* match (`ORDER BY bm25()`), so a common word ("model", hundreds of
thousands of matches at 1M papers) costs hundreds of milliseconds; tantivy prunes with block-max WAND and
answers the same top-10 in a few (bench/).

The index is a derived view: it only maps query text to paper ids, and `search()` returns ids, which the caller
reads back from the catalogue in the index's order, dropping ids the catalogue lacks — so the index can be
stale or rebuilt at any time without ever making the bot serve a paper the catalogue does not have. Who writes
it, when, and how it catches up with the catalogue's change log is `bot.search.keyword_view`'s job; this module
is only the index in one directory.

Every method blocks (tantivy is native code): call them from a worker thread, never on the event loop.
Searches may run concurrently with each other and with the one writer. Only one process may write a given
directory (tantivy's own lock file enforces it; the lease in `bot.search.lease` makes sure we never try).

Query semantics: plain words and "quoted phrases" must all match (any field: title boosted ×`TITLE_BOOST`,
abstract, authors); a word ending in `*` is a prefix; with no hit the any-word fallback runs. User text never
reaches a query parser: queries are built term by term (`bot.search.terms`), so any input is safe.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import tantivy

from bot.models import Paper, SortOrder
from bot.search.syntax import SearchQuery
from bot.search.terms import Term, parse_query

__all__ = [
    "DEFAULT_HEAP_BYTES",
    "ENGINE",
    "INDEXING_THREADS",
    "INDEX_FORMAT",
    "IndexHits",
    "IndexUnusable",
    "KeywordIndex",
]

# Bump whenever the schema, an analyzer or the document mapping changes: the index is then rebuilt.
INDEX_FORMAT = 3
# The library's version and on-disk format: an upgrade rebuilds the index instead of trusting old files.
ENGINE = str(getattr(tantivy, "__version__", "unknown"))
# Writer memory: tantivy's heap is split over its indexing threads (>= 15 MB each).
DEFAULT_HEAP_BYTES = 64_000_000
# Indexing threads: one core is left to the Python side that feeds them (parsing an import, reading rows for a
# rebuild), which holds the GIL and cannot use a second core anyway. On 2 cores that means one thread, which
# also makes each in-memory segment twice as big — half the segments to merge. A 1M-paper import took ~10%
# less CPU with 1 thread than with 2 (bench/README.md, issue 9); machines with more cores keep 2.
INDEXING_THREADS = max(1, min(2, (os.cpu_count() or 2) - 1))
TITLE_BOOST = 3.0
AUTHORS_BOOST = 1.5
# Lowercase and ASCII-fold, no stemming: a Snowball stemmer doubled indexing time (measured, bench/), so
# singular/plural matching happens at query time instead (`_variants`: "model" also finds "models").
_WORDS = "paper_words"  # title, abstract: lowercase (ASCII-folding every abstract cost ~20% of indexing)
_NAMES = "paper_names"  # authors: lowercase and ASCII-folded, so "Gahler" finds "Gähler"
_MAX_PREFIX_TERMS = 24  # a prefix expands to at most this many index terms per field (the most frequent)
# Autocomplete runs on every keystroke with a 10 ms budget: its unfinished word expands to fewer terms.
_AUTOCOMPLETE_PREFIX_TERMS = 8
_PREFIX_SCAN = 4096  # dictionary entries scanned per prefix (lexicographic order), the most frequent kept
_EPOCH = dt.date(1970, 1, 1)
_FUZZY_MIN_CHARS = 4  # shorter words have too many neighbours at edit distance 1 to be worth forgiving
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class IndexUnusable(Exception):
    """The index directory is missing, corrupt or unreadable: rebuild it."""


@dataclass(frozen=True, slots=True)
class IndexHits:
    """One page of ids, best first; `matched` says whether all words matched or the any-word fallback ran."""

    ids: tuple[str, ...]
    matched: Literal["all", "any", "none"]
    has_more: bool = False


def _analyzer(*, fold: bool) -> tantivy.TextAnalyzer:
    builder = (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
    )
    if fold:
        builder = builder.filter(tantivy.Filter.ascii_fold())
    return builder.build()


def _variants(token: str) -> tuple[str, ...]:
    """The token plus its English singular/plural forms (a light, query-side stand-in for stemming)."""
    if len(token) <= 3 or not token.isalpha():
        return (token,)
    if token.endswith("ies"):
        return (token, token[:-3] + "y")
    if token.endswith(("sses", "shes", "ches", "xes", "zes")):
        return (token, token[:-2])
    if token.endswith("ss"):
        return (token, token + "es")
    if token.endswith("s"):
        return (token, token[:-1])
    if token.endswith("y") and token[-2] not in "aeiou":
        return (token, token[:-1] + "ies")
    if token.endswith(("sh", "ch", "x", "z")):
        return (token, token + "es")
    return (token, token + "s")


def _searchable_abstract(paper: Paper) -> str | None:
    """The abstract as the index sees it: AI keywords are searchable text too, indexed with the abstract."""
    if not paper.ai_keywords:
        return paper.abstract
    keywords = "; ".join(paper.ai_keywords)
    return f"{paper.abstract}\n{keywords}" if paper.abstract else keywords


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title", tokenizer_name=_WORDS)
    builder.add_text_field("abstract", tokenizer_name=_WORDS)
    builder.add_text_field("authors", tokenizer_name=_NAMES)
    builder.add_text_field("categories", tokenizer_name="raw")  # one token per arXiv category, lower-cased
    builder.add_integer_field("upvotes", fast=True)
    builder.add_integer_field("published", fast=True)  # days since 1970-01-01; -1 unknown
    return builder.build()


class KeywordIndex:
    """The tantivy index in one directory; see the module docstring for the contract."""

    def __init__(self, directory: Path, index: tantivy.Index, *, heap_bytes: int) -> None:
        self.directory = directory
        self._index = index
        self._schema = index.schema
        self._words = _analyzer(fold=False)
        self._names = _analyzer(fold=True)
        self._heap_bytes = heap_bytes
        self._writer: tantivy.IndexWriter | None = None
        self._write_lock = threading.Lock()
        self._uncommitted: set[str] = set()
        self._searcher = index.searcher()

    # ---- lifecycle ----------------------------------------------------------------------------------------

    @classmethod
    def create(cls, directory: Path, *, heap_bytes: int = DEFAULT_HEAP_BYTES) -> KeywordIndex:
        """A new, empty index in `directory` (which must not hold one)."""
        directory.mkdir(parents=True, exist_ok=True)
        index = tantivy.Index(_schema(), path=str(directory), reuse=False)
        return cls._ready(directory, index, heap_bytes)

    @classmethod
    def open(cls, directory: Path, *, heap_bytes: int = DEFAULT_HEAP_BYTES) -> KeywordIndex:
        """The existing index in `directory`; raise IndexUnusable when it is missing or cannot be read."""
        try:
            if not tantivy.Index.exists(str(directory)):
                raise IndexUnusable(f"no search index in {directory}")
            index = tantivy.Index(_schema(), path=str(directory), reuse=True)
            return cls._ready(directory, index, heap_bytes)
        except ValueError as exc:  # tantivy reports I/O and format problems as ValueError
            raise IndexUnusable(f"cannot read the search index in {directory}: {exc}") from exc

    @classmethod
    def _ready(cls, directory: Path, index: tantivy.Index, heap_bytes: int) -> KeywordIndex:
        index.register_tokenizer(_WORDS, _analyzer(fold=False))
        index.register_tokenizer(_NAMES, _analyzer(fold=True))
        index.reload()
        return cls(directory, index, heap_bytes=heap_bytes)

    def reload(self) -> None:
        """See the latest commit (another process's too). Keeps the current searcher if the reload fails:
        the writer may be replacing segment files this very moment, and the next reload will see them."""
        try:
            self._index.reload()
            self._searcher = self._index.searcher()
        except ValueError:
            pass

    def close(self) -> None:
        """Release the writer (and tantivy's lock file); the searcher needs no closing."""
        with self._write_lock:
            if self._writer is not None:
                self._writer.wait_merging_threads()
                self._writer = None

    def _get_writer(self) -> tantivy.IndexWriter:
        if self._writer is None:
            # The indexing threads split the heap; tantivy needs >= 15 MB per thread.
            self._writer = self._index.writer(heap_size=self._heap_bytes, num_threads=INDEXING_THREADS)
        return self._writer

    def _commit(self, writer: tantivy.IndexWriter) -> None:
        writer.commit()
        self._uncommitted.clear()
        self._index.reload()
        self._searcher = self._index.searcher()

    # ---- writes -------------------------------------------------------------------------------------------

    def _document(self, paper: Paper) -> tantivy.Document:
        doc = tantivy.Document()
        doc.add_text("id", paper.id)
        doc.add_text("title", paper.title)
        abstract = _searchable_abstract(paper)
        if abstract:
            doc.add_text("abstract", abstract)
        if paper.authors:
            doc.add_text("authors", ", ".join(paper.authors))
        for category in paper.categories or ():
            doc.add_text("categories", category.casefold())
        doc.add_integer("upvotes", paper.upvotes if paper.upvotes is not None else -1)
        doc.add_integer("published", (paper.published - _EPOCH).days if paper.published else -1)
        return doc

    def index_papers(self, papers: Iterable[Paper], *, commit: bool = True, new: bool = False) -> int:
        """Add or replace these papers (by id); commit unless told not to; return how many were indexed.

        A paper the index does not hold yet is added without a delete-by-id (`new=True` promises that for
        all of them, e.g. a rebuild into an empty index): a bulk import of new papers then queues no delete
        operations, which keeps the writer's memory flat. Uncommitted work is invisible to searches and lost
        on a crash: the caller moves its change-log cursor only after `commit()` returned.
        """
        with self._write_lock:
            writer = self._get_writer()
            searcher = self._searcher
            count = 0
            for paper in papers:
                if not new and (paper.id in self._uncommitted or searcher.doc_freq("id", paper.id)):
                    writer.delete_documents_by_term("id", paper.id)
                writer.add_document(self._document(paper))
                self._uncommitted.add(paper.id)
                count += 1
            if count and commit:
                self._commit(writer)
            return count

    def delete_ids(self, ids: Iterable[str], *, commit: bool = True) -> None:
        """Remove papers by id; commit unless told not to."""
        with self._write_lock:
            writer = self._get_writer()
            for paper_id in ids:
                writer.delete_documents_by_term("id", paper_id)
                self._uncommitted.discard(paper_id)
            if commit:
                self._commit(writer)

    def commit(self) -> None:
        """Make everything indexed so far durable and searchable."""
        with self._write_lock:
            if self._writer is not None:
                self._commit(self._writer)

    # ---- reads --------------------------------------------------------------------------------------------

    @property
    def num_docs(self) -> int:
        """Documents currently searchable."""
        return int(self._searcher.num_docs)

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        offset: int = 0,
        sort: SortOrder = "relevance",
        where: SearchQuery | None = None,
    ) -> IndexHits:
        """Ids of the best matches for user text: all words, else any word; never raises on user text.

        `where` adds the search syntax's filters (title, author, category, excluded words, date range): they
        narrow both the all-words and the any-word attempt. With filters and no text, every paper that
        passes them matches, newest first unless another sort is asked for.
        """
        limit = max(1, min(limit, 100))
        offset = max(0, offset)
        searcher = self._searcher
        clauses = [c for c in (self._term_query(searcher, term) for term in parse_query(query)) if c is not None]
        must, must_not = self._filters(where)
        if not clauses and not must and not must_not:
            return IndexHits((), "none")
        order_by = {"relevance": None, "upvotes": "upvotes", "newest": "published"}[sort]
        if not clauses:
            clauses, order_by = [tantivy.Query.all_query()], order_by or "published"
        attempts: list[tuple[Literal["all", "any"], tantivy.Occur]] = [("all", tantivy.Occur.Must)]
        if len(clauses) > 1:
            attempts.append(("any", tantivy.Occur.Should))
        for mode, occur in attempts:
            text = clauses[0] if len(clauses) == 1 else tantivy.Query.boolean_query([(occur, c) for c in clauses])
            combined = self._narrowed(text, must, must_not)
            hits = searcher.search(combined, limit + 1, count=False, order_by_field=order_by, offset=offset).hits
            if hits:
                ids = tuple(searcher.doc(address)["id"][0] for _score, address in hits[:limit])
                return IndexHits(ids, mode, has_more=len(hits) > limit)
            if offset and searcher.search(combined, 1, count=False).hits:
                # Past the end of this mode's results: an empty page, not a silent switch to any-word results.
                return IndexHits((), mode)
        return IndexHits((), "none")

    @staticmethod
    def _narrowed(text: tantivy.Query, must: list[tantivy.Query], must_not: list[tantivy.Query]) -> tantivy.Query:
        if not must and not must_not:
            return text
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Must, text)]
            + [(tantivy.Occur.Must, q) for q in must]
            + [(tantivy.Occur.MustNot, q) for q in must_not]
        )

    def _filters(self, where: SearchQuery | None) -> tuple[list[tantivy.Query], list[tantivy.Query]]:
        """The search syntax's filters as required and excluded clauses (words compared as the index does)."""
        if where is None:
            return [], []
        must: list[tantivy.Query] = []
        for phrase in where.title:
            tokens = self._words.analyze(phrase)
            if tokens:
                must.append(
                    self._phrase_query("title", tokens) if len(tokens) > 1 else self._word_query("title", tokens[0])
                )
        for name in where.authors:
            tokens = self._names.analyze(name)
            if tokens:
                must.append(
                    self._phrase_query("authors", tokens)
                    if len(tokens) > 1
                    else tantivy.Query.term_query(self._schema, "authors", tokens[0])
                )
        for category in where.categories:
            must.append(tantivy.Query.term_query(self._schema, "categories", category.casefold()))
        if where.since is not None or where.until is not None:
            low = (where.since - _EPOCH).days if where.since else None
            high = (where.until - _EPOCH).days if where.until else None
            must.append(
                tantivy.Query.range_query(
                    self._schema, "published", tantivy.FieldType.Integer, low if low is not None else 0, high
                )
            )
        must_not: list[tantivy.Query] = []
        for phrase in where.exclude:
            term = self._term_query(self._searcher, Term(tuple(w.lower() for w in _WORD.findall(phrase))))
            if term is not None:
                must_not.append(term)
        return must, must_not

    def document_frequency(self, word: str) -> int:
        """How many papers have `word` in their title or abstract (0 for an unknown word): what a typo
        correction needs to tell a real word from a misspelt one."""
        tokens = self._words.analyze(word)
        if len(tokens) != 1:
            return 0
        searcher = self._searcher
        return int(searcher.doc_freq("title", tokens[0])) + int(searcher.doc_freq("abstract", tokens[0]))

    def autocomplete(self, text: str, *, limit: int = 25) -> list[str]:
        """Ids of papers whose title contains every typed word, the last one as a prefix while still typed.

        With no such title, one typo per word is forgiven (a fuzzy match at edit distance 1, the last word as
        a fuzzy prefix), so "chronso" still suggests "Chronos: …".
        """
        limit = max(1, min(limit, 25))
        words = [w.lower() for w in _WORD.findall(text)][:16]
        if not words:
            return []
        still_typing = not text[-1:].isspace()
        searcher = self._searcher
        exact = self._autocomplete_query(searcher, words, still_typing, fuzzy=False)
        hits = searcher.search(exact, limit, count=False).hits if exact is not None else []
        if not hits:
            fuzzy = self._autocomplete_query(searcher, words, still_typing, fuzzy=True)
            hits = searcher.search(fuzzy, limit, count=False).hits if fuzzy is not None else []
        return [searcher.doc(address)["id"][0] for _score, address in hits]

    def _autocomplete_query(
        self, searcher: tantivy.Searcher, words: list[str], still_typing: bool, *, fuzzy: bool
    ) -> tantivy.Query | None:
        clauses: list[tantivy.Query] = []
        for position, word in enumerate(words):
            tokens = self._words.analyze(word)
            if not tokens:
                continue
            last = still_typing and position == len(words) - 1
            if fuzzy and len(tokens[0]) >= _FUZZY_MIN_CHARS:
                clauses.append(
                    tantivy.Query.fuzzy_term_query(self._schema, "title", tokens[0], distance=1, prefix=last)
                )
            elif last:
                prefix_query = self._prefix_query(searcher, "title", tokens[0], _AUTOCOMPLETE_PREFIX_TERMS)
                if prefix_query is None:
                    return None
                clauses.append(prefix_query)
            else:
                clauses.extend(self._word_query("title", t) for t in tokens)
        if not clauses:
            return None
        return tantivy.Query.boolean_query([(tantivy.Occur.Must, c) for c in clauses])

    # ---- query building -----------------------------------------------------------------------------------

    def _fields_query(self, per_field: Sequence[tuple[str, float, tantivy.Query]]) -> tantivy.Query:
        return tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Should, q if boost == 1.0 else tantivy.Query.boost_query(q, boost))
                for _f, boost, q in per_field
            ]
        )

    def _word_query(self, field: str, token: str) -> tantivy.Query:
        """One word in one field, matching its singular/plural forms too."""
        forms = _variants(token)
        if len(forms) == 1:
            return tantivy.Query.term_query(self._schema, field, token)
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(self._schema, field, f)) for f in forms]
        )

    def _phrase_query(self, field: str, tokens: Sequence[str]) -> tantivy.Query:
        """Words in this exact order in one field (a quoted phrase means these words: no variants)."""
        return tantivy.Query.phrase_query(self._schema, field, list(tokens))

    def _term_query(self, searcher: tantivy.Searcher, term: Term) -> tantivy.Query | None:
        """One user term (word, phrase or prefix) as a query over title (boosted), abstract and authors."""
        text = " ".join(term.words)
        words, names = self._words.analyze(text), self._names.analyze(text)
        fields: list[tuple[str, float, tantivy.Query]] = []
        for name, boost, tokens in (
            ("title", TITLE_BOOST, words),
            ("abstract", 1.0, words),
            ("authors", AUTHORS_BOOST, names),
        ):
            if not tokens:
                continue
            if term.prefix:
                query = self._prefix_query(searcher, name, tokens[-1])
                if query is not None:
                    fields.append((name, boost, query))
            elif len(tokens) == 1:
                fields.append((name, boost, self._word_query(name, tokens[0])))
            else:
                fields.append((name, boost, self._phrase_query(name, tokens)))
        if not fields:
            return tantivy.Query.empty_query() if term.prefix else None
        return self._fields_query(fields)

    def _prefix_query(
        self, searcher: tantivy.Searcher, field: str, prefix: str, max_terms: int = _MAX_PREFIX_TERMS
    ) -> tantivy.Query | None:
        """The most frequent index terms starting with `prefix` in `field`, OR-ed; None when there are none."""
        terms = searcher.terms_with_prefix(field, prefix, limit=_PREFIX_SCAN)
        if not terms:
            return None
        if len(terms) > max_terms:
            terms = sorted(terms, key=lambda pair: -pair[1])[:max_terms]
        return tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(self._schema, field, t)) for t, _df in terms]
        )
