"""Deterministic synthetic arXiv snapshot: realistic text, generated once and cached.

Text is drawn from the vocabulary model in `data/vocab.json` (learned from the real fixture abstracts by
`_build_vocab.py`):

* head words with their real frequencies, and with probability `_BIGRAM_P` the next word follows a real word
  pair, so phrases such as "language models" or "video generation" occur as they do in real abstracts;
* a seeded synthetic long tail (`_TAIL_WORDS` pronounceable pseudo-words, Zipf exponent `_TAIL_S`, total mass
  `_TAIL_MASS`), so a 1M corpus has a realistic number of distinct terms and rare terms stay rare: a tail word
  of rank r appears about N·180·mass·r^-s/H times;
* title and abstract lengths sampled from the real length distributions; authors from real author names.

Every chunk of `CHUNK` records is seeded from (seed, chunk index), so the file is byte-identical whatever the
number of worker processes, and generation runs on every core. The finished file is renamed into place only
when complete, so an interrupted run never leaves a truncated cache entry.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import json
import multiprocessing
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

GENERATOR_VERSION = 2
CHUNK = 5_000
_BIGRAM_P = 0.35
_TAIL_WORDS = 400_000
_TAIL_S = 1.1
_TAIL_MASS = 0.04
_TITLE_WORD_P = 0.6
_PAPERS_PER_MONTH = 20_000
_HEAD_SLOTS = 1 << 18
_VOCAB = Path(__file__).with_name("data") / "vocab.json"
_ONSETS = (
    "b",
    "br",
    "c",
    "cr",
    "d",
    "dr",
    "f",
    "fl",
    "g",
    "gr",
    "k",
    "l",
    "m",
    "n",
    "p",
    "pl",
    "qu",
    "r",
    "s",
    "st",
    "t",
    "tr",
    "v",
    "z",
    "x",
    "th",
    "sh",
    "ph",
)
_VOWELS = ("a", "e", "i", "o", "u", "ae", "io", "ou", "y")
_CODAS = ("", "n", "r", "s", "x", "l", "m", "nd", "rt", "st", "k")
_CATEGORIES = (
    ("cs.CV", 30),
    ("cs.CL", 25),
    ("cs.LG", 25),
    ("cs.AI", 15),
    ("stat.ML", 6),
    ("cs.RO", 5),
    ("eess.IV", 3),
    ("cs.SE", 3),
    ("math.OC", 2),
    ("quant-ph", 2),
    ("hep-th", 2),
    ("astro-ph.GA", 2),
)
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def tail_word(rank: int) -> str:
    """The synthetic tail word of 1-based `rank`: a fixed pseudo-word, the same for every seed and size."""
    h = (rank * 2654435761 + 97) % 4294967296  # Knuth multiplicative hash: cheap, fixed, well spread
    parts = []
    for _ in range(2 + rank % 3):
        parts.append(_ONSETS[h % len(_ONSETS)] + _VOWELS[(h >> 5) % len(_VOWELS)])
        h = (h * 1103515245 + 12345) % 2147483648
    return "".join(parts) + _CODAS[h % len(_CODAS)] + _base26(rank)


def _base26(n: int) -> str:
    # A unique suffix keeps every tail word distinct (pseudo-words alone would collide).
    out = ""
    while True:
        n, r = divmod(n, 26)
        out = chr(97 + r) + out
        if n == 0:
            return out


@dataclass(frozen=True, slots=True)
class _Model:
    head_table: list[str]  # _HEAD_SLOTS slots, each head word in proportion to its real frequency
    tail_words: list[str]
    tail_cum: list[float]
    title_table: list[str]
    bigrams: dict[str, list[str]]  # next words repeated by their pair counts: a uniform pick is weighted
    title_lengths: list[int]
    abstract_lengths: list[int]
    authors: list[tuple[str, str]]
    categories: list[str]
    category_cum: list[float]


def _slots(pairs: list[tuple[str, float]], size: int) -> list[str]:
    """A lookup table of `size` slots where each word fills a share of slots equal to its probability."""
    total = sum(c for _, c in pairs)
    table: list[str] = []
    acc = 0.0
    for word, count in pairs:
        acc += count
        table.extend([word] * (round(acc / total * size) - len(table)))
    return table


@cache
def _model() -> _Model:
    raw = json.loads(_VOCAB.read_text(encoding="utf-8"))
    authors = []
    for name in raw["authors"]:
        first, _, last = name.rpartition(" ")
        authors.append((first, last))
    return _Model(
        head_table=_slots([(w, float(c)) for w, c in raw["words"]], _HEAD_SLOTS),
        tail_words=[tail_word(r) for r in range(1, _TAIL_WORDS + 1)],
        tail_cum=list(itertools.accumulate(r**-_TAIL_S for r in range(1, _TAIL_WORDS + 1))),
        title_table=_slots([(w, float(c)) for w, c in raw["title_words"]], _HEAD_SLOTS // 8),
        bigrams={prev: [w for w, c in nxt for _ in range(c)] for prev, nxt in raw["bigrams"].items() if nxt},
        title_lengths=raw["title_lengths"],
        abstract_lengths=raw["abstract_lengths"],
        authors=authors,
        categories=[c for c, _ in _CATEGORIES],
        category_cum=list(itertools.accumulate(float(w) for _, w in _CATEGORIES)),
    )


def _text(rng: random.Random, m: _Model, n: int, *, title: bool) -> list[str]:
    # Table lookups, one random number per word in the common case: the generator must make 1M papers
    # (~180M words) in about a minute on two cores.
    out: list[str] = []
    rand = rng.random
    head, head_slots = m.head_table, len(m.head_table) / (1 - _TAIL_MASS)
    tail, tail_cum, tail_total = m.tail_words, m.tail_cum, m.tail_cum[-1]
    titles, title_slots = m.title_table, len(m.title_table)
    bigrams = m.bigrams
    prev = ""
    for _ in range(n):
        follow = bigrams.get(prev)
        if follow is not None and rand() < _BIGRAM_P:
            word = follow[int(rand() * len(follow))]
        elif title and rand() < _TITLE_WORD_P:
            word = titles[int(rand() * title_slots)]
        else:
            u = rand()
            if u < 1 - _TAIL_MASS:
                word = head[int(u * head_slots)]
            else:
                word = tail[bisect.bisect(tail_cum, (u - (1 - _TAIL_MASS)) / _TAIL_MASS * tail_total)]
        out.append(word)
        prev = word
    return out


def _abstract(rng: random.Random, m: _Model) -> str:
    words = _text(rng, m, max(8, rng.choice(m.abstract_lengths)), title=False)
    sentences: list[str] = []
    i = 0
    while i < len(words):
        j = min(len(words), i + rng.randint(12, 30))
        sentence = words[i:j]
        sentences.append(sentence[0].capitalize() + (" " + " ".join(sentence[1:]) if len(sentence) > 1 else ""))
        i = j
    return "  " + ". ".join(sentences) + ".\n"


def _title(rng: random.Random, m: _Model) -> str:
    words = _text(rng, m, max(2, rng.choice(m.title_lengths)), title=True)
    return " ".join(w.capitalize() if len(w) > 3 else w for w in words)


def paper_id(index: int) -> str:
    """The synthetic paper's arXiv id: new-style, `_PAPERS_PER_MONTH` per month from January 2015."""
    month, number = divmod(index, _PAPERS_PER_MONTH)
    year, mon = divmod(month, 12)
    return f"{15 + year:02d}{mon + 1:02d}.{number + 1:05d}"


def _record(index: int, rng: random.Random, m: _Model) -> dict[str, object]:
    month = index // _PAPERS_PER_MONTH
    created = dt.datetime(
        2015 + month // 12,
        month % 12 + 1,
        rng.randint(1, 28),
        rng.randint(0, 23),
        rng.randint(0, 59),
        rng.randint(0, 59),
        tzinfo=dt.UTC,
    )
    stamp = (
        f"{_DAYS[created.weekday()]}, {created.day} {_MONTHS[created.month - 1]} {created.year} {created:%H:%M:%S} GMT"
    )
    authors = rng.sample(m.authors, k=min(len(m.authors), rng.choice((1, 2, 2, 3, 3, 4, 4, 5, 6, 8, 12))))
    cats = sorted(set(rng.choices(m.categories, cum_weights=m.category_cum, k=rng.randint(1, 3))))
    return {
        "id": paper_id(index),
        "submitter": " ".join(authors[0]).strip(),
        "authors": ", ".join(" ".join(a).strip() for a in authors),
        "title": _title(rng, m),
        "comments": None,
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": " ".join(cats),
        "license": None,
        "abstract": _abstract(rng, m),
        "versions": [{"version": "v1", "created": stamp}],
        "update_date": created.date().isoformat(),
        "authors_parsed": [[last, first, ""] for first, last in authors],
    }


def _chunk(args: tuple[int, int, int]) -> bytes:
    seed, start, stop = args
    rng = random.Random(f"{seed}:{start}")
    m = _model()
    return "".join(json.dumps(_record(i, rng, m), ensure_ascii=False) + "\n" for i in range(start, stop)).encode()


def _chunks(papers: int, seed: int) -> Iterator[tuple[int, int, int]]:
    for start in range(0, papers, CHUNK):
        yield seed, start, min(papers, start + CHUNK)


def snapshot_path(cache_dir: Path, papers: int, seed: int) -> Path:
    """Where the cached snapshot for (papers, seed) lives."""
    return cache_dir / f"snapshot-n{papers}-s{seed}-g{GENERATOR_VERSION}.jsonl"


def ensure_snapshot(cache_dir: Path, papers: int, seed: int, *, workers: int | None = None) -> tuple[Path, bool]:
    """Return (path, generated_now): the cached synthetic snapshot, generating it first if needed."""
    path = snapshot_path(cache_dir, papers, seed)
    if path.exists():
        return path, False
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    workers = workers or min(4, os.cpu_count() or 1)
    with open(tmp, "wb") as out:
        if workers <= 1 or papers <= CHUNK:
            for args in _chunks(papers, seed):
                out.write(_chunk(args))
        else:
            with multiprocessing.get_context("spawn").Pool(workers) as pool:
                for blob in pool.imap(_chunk, _chunks(papers, seed)):
                    out.write(blob)
    tmp.replace(path)
    return path, True
