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

import numpy as np

GENERATOR_VERSION = 4
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
    vocab: np.ndarray  # every word (head, then tail), as an object array for fancy indexing
    head_table: np.ndarray  # _HEAD_SLOTS vocab indices, each head word in proportion to its real frequency
    tail_cum: np.ndarray  # normalised cumulative Zipf weights of the tail words
    title_table: np.ndarray  # vocab indices in proportion to real title-word frequencies
    bigram_offset: np.ndarray  # per vocab index: where its followers start in bigram_flat
    bigram_count: np.ndarray  # per vocab index: how many followers (0: none)
    bigram_flat: np.ndarray  # followers repeated by pair count, so a uniform pick is frequency-weighted
    title_lengths: np.ndarray
    abstract_lengths: np.ndarray
    authors: list[tuple[str, str]]
    categories: list[str]
    category_cum: list[float]


def _slots(pairs: list[tuple[int, float]], size: int) -> np.ndarray:
    """A lookup table of `size` slots where each index fills a share of slots equal to its probability."""
    total = sum(c for _, c in pairs)
    table: list[int] = []
    acc = 0.0
    for index, count in pairs:
        acc += count
        table.extend([index] * (round(acc / total * size) - len(table)))
    return np.array(table, dtype=np.int64)


@cache
def _model() -> _Model:
    raw = json.loads(_VOCAB.read_text(encoding="utf-8"))
    head = [w for w, _ in raw["words"]]
    words = head + [tail_word(r) for r in range(1, _TAIL_WORDS + 1)]
    position = {w: i for i, w in enumerate(head)}
    offsets = np.zeros(len(words), dtype=np.int64)
    counts = np.zeros(len(words), dtype=np.int64)
    flat: list[int] = []
    for prev, followers in raw["bigrams"].items():
        if prev not in position or not followers:
            continue
        offsets[position[prev]] = len(flat)
        flat.extend(position[w] for w, c in followers if w in position for _ in range(c))
        counts[position[prev]] = len(flat) - offsets[position[prev]]
    tail_weights = np.arange(1, _TAIL_WORDS + 1, dtype=np.float64) ** -_TAIL_S
    authors = []
    for name in raw["authors"]:
        first, _, last = name.rpartition(" ")
        authors.append((first, last))
    return _Model(
        vocab=np.array(words, dtype=object),
        head_table=_slots([(position[w], float(c)) for w, c in raw["words"]], _HEAD_SLOTS),
        tail_cum=np.cumsum(tail_weights) / tail_weights.sum(),
        title_table=_slots([(position[w], float(c)) for w, c in raw["title_words"] if w in position], _HEAD_SLOTS // 8),
        bigram_offset=offsets,
        bigram_count=counts,
        bigram_flat=np.array(flat, dtype=np.int64),
        title_lengths=np.array(raw["title_lengths"], dtype=np.int64),
        abstract_lengths=np.array(raw["abstract_lengths"], dtype=np.int64),
        authors=authors,
        categories=[c for c, _ in _CATEGORIES],
        category_cum=list(itertools.accumulate(float(w) for _, w in _CATEGORIES)),
    )


def _tokens(rng: np.random.Generator, m: _Model, total: int, title_mask: np.ndarray) -> np.ndarray:
    """`total` vocab indices: Zipf unigrams (real head + synthetic tail), title words, then word-pair chains."""
    u = rng.random(total)
    head_p = 1 - _TAIL_MASS
    is_head = u < head_p
    tokens = np.empty(total, dtype=np.int64)
    tokens[is_head] = m.head_table[(u[is_head] / head_p * len(m.head_table)).astype(np.int64)]
    tail_u = (u[~is_head] - head_p) / _TAIL_MASS
    tail_rank = np.minimum(np.searchsorted(m.tail_cum, tail_u, side="right"), _TAIL_WORDS - 1)
    tokens[~is_head] = len(m.vocab) - _TAIL_WORDS + tail_rank
    title_pick = title_mask & (rng.random(total) < _TITLE_WORD_P)
    tokens[title_pick] = m.title_table[rng.integers(0, len(m.title_table), int(title_pick.sum()))]
    # Each pass lets a word follow its predecessor through a real word pair; two passes make chains of
    # three ("large language models"), which phrase queries need.
    for _ in range(2):
        prev = np.empty_like(tokens)
        prev[0] = 0
        prev[1:] = tokens[:-1]
        follow = (rng.random(total) < _BIGRAM_P) & (m.bigram_count[prev] > 0)
        follow[0] = False
        chosen = prev[follow]
        picks = (rng.random(len(chosen)) * m.bigram_count[chosen]).astype(np.int64)
        tokens[follow] = m.bigram_flat[m.bigram_offset[chosen] + picks]
    return tokens


def _abstract(words: list[str], cuts: list[int]) -> str:
    sentences: list[str] = []
    i = 0
    for cut in cuts:
        if i >= len(words):
            break
        sentence = words[i : i + cut]
        sentences.append(sentence[0].capitalize() + (" " + " ".join(sentence[1:]) if len(sentence) > 1 else ""))
        i += cut
    return "  " + ". ".join(sentences) + ".\n"


def _title(words: list[str]) -> str:
    return " ".join(w.capitalize() if len(w) > 3 else w for w in words)


def paper_id(index: int) -> str:
    """The synthetic paper's arXiv id: new-style, `_PAPERS_PER_MONTH` per month from January 2015."""
    month, number = divmod(index, _PAPERS_PER_MONTH)
    year, mon = divmod(month, 12)
    return f"{15 + year:02d}{mon + 1:02d}.{number + 1:05d}"


def _record(index: int, rng: random.Random, m: _Model, title: str, abstract: str) -> dict[str, object]:
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
        "title": title,
        "comments": None,
        "journal-ref": None,
        "doi": None,
        "report-no": None,
        "categories": " ".join(cats),
        "license": None,
        "abstract": abstract,
        "versions": [{"version": "v1", "created": stamp}],
        "update_date": created.date().isoformat(),
        "authors_parsed": [[last, first, ""] for first, last in authors],
    }


def _chunk(args: tuple[int, int, int, int]) -> bytes:
    """Records [start, stop) as JSON Lines; depends only on (seed, start, stop)."""
    seed, start, stop, chunk = args
    # Always draw a whole chunk and cut it: the random stream then never depends on where the corpus
    # ends, so a corpus of N papers is a byte-prefix of any bigger one with the same seed.
    keep, count = stop - start, chunk
    m = _model()
    rng = np.random.default_rng([seed, start])
    py_rng = random.Random(f"{seed}:{start}")
    title_lengths = np.maximum(2, rng.choice(m.title_lengths, count))
    abstract_lengths = np.maximum(8, rng.choice(m.abstract_lengths, count))
    lengths = np.empty(2 * count, dtype=np.int64)
    lengths[0::2], lengths[1::2] = title_lengths, abstract_lengths
    ends = np.cumsum(lengths)
    title_mask = np.zeros(int(ends[-1]), dtype=bool)
    for begin, length in zip((ends - lengths)[0::2].tolist(), title_lengths.tolist(), strict=True):
        title_mask[begin : begin + length] = True
    words: list[str] = m.vocab[_tokens(rng, m, int(ends[-1]), title_mask)].tolist()
    sentence_cuts = rng.integers(12, 31, size=(count, 40)).tolist()
    bounds = (ends - lengths).tolist()
    lines: list[str] = []
    for k in range(keep):
        t0, a0 = bounds[2 * k], bounds[2 * k + 1]
        title = _title(words[t0 : t0 + int(title_lengths[k])])
        abstract = _abstract(words[a0 : a0 + int(abstract_lengths[k])], sentence_cuts[k])
        lines.append(json.dumps(_record(start + k, py_rng, m, title, abstract), ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode()


def _chunks(papers: int, seed: int) -> Iterator[tuple[int, int, int, int]]:
    for start in range(0, papers, CHUNK):
        yield seed, start, min(papers, start + CHUNK), CHUNK


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
