"""Regenerate the keyword and one-typo relevance sets from the fixture papers (the paraphrases are hand-written).

`python -m bench._build_relevance` rewrites `bench/data/relevance/{keyword,typo}.tsv` and assigns every
paper of `paraphrase.tsv` its split. The output is committed: the files are the sets, this script only
documents (and can repeat) how the mechanical two were made.

* keyword — the paper's own words, as a person who remembers the title types them: the three title words
  rarest in the corpus (stopwords left out), in title order, lower-cased.
* typo — the keyword query with one realistic single edit (adjacent letters swapped, a letter dropped,
  a letter doubled, or a QWERTY neighbour struck) in its rarest alphabetic word of at least 5 letters
  (the word that identifies the paper, so the typo matters).
* split — `tuning` for 40% of papers (by a hash of the id, so stable as papers are added), `reporting` for the
  rest. Fusion and thresholds are tuned on `tuning` only; the targets are asserted on `reporting`.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
from collections import Counter
from pathlib import Path

from bench.fixture_papers import load_corpus

DATA = Path(__file__).resolve().parent / "data" / "relevance"
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "for",
        "from",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "the",
        "to",
        "via",
        "vs",
        "we",
        "with",
        "without",
        "your",
        "you",
        "our",
        "how",
        "what",
        "when",
        "why",
        "not",
        "all",
        "any",
        "towards",
        "toward",
        "using",
        "use",
        "based",
    ]
)
_WORD = re.compile(r"[^\W_]+(?:[-'][^\W_]+)*", re.UNICODE)
_NEIGHBOURS = {
    "q": "wa", "w": "qes", "e": "wrd", "r": "etf", "t": "ryg", "y": "tuh", "u": "yij", "i": "uok", "o": "ipl",
    "p": "ol", "a": "qsz", "s": "adwx", "d": "sfe", "f": "dgr", "g": "fht", "h": "gjy", "j": "hku", "k": "jli",
    "l": "ko", "z": "asx", "x": "zsc", "c": "xvd", "v": "cbf", "b": "vng", "n": "bmh", "m": "nj",
}  # fmt: skip


def split_of(paper_id: str) -> str:
    """40% of papers tune, 60% report; stable per id."""
    return "tuning" if hashlib.sha256(paper_id.encode()).digest()[0] < 102 else "reporting"


def title_words(title: str) -> list[str]:
    """The title's content words, lower-cased, each once, in title order."""
    words = [w.lower() for w in _WORD.findall(title)]
    return list(dict.fromkeys(w for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())))


def keyword_query(title: str, document_frequency: dict[str, int]) -> str:
    """The three title words rarest in the corpus, in title order."""
    words = title_words(title)
    rarest = set(sorted(words, key=lambda w: (document_frequency.get(w, 0), words.index(w)))[:3])
    return " ".join(w for w in words if w in rarest)


def one_typo(word: str, rng: random.Random) -> str:
    """One realistic edit inside the word (first letter kept: people rarely mistype it)."""
    for _ in range(20):
        kind = rng.choice(("swap", "drop", "double", "neighbour"))
        i = rng.randrange(1, len(word) - 1)
        if kind == "swap":
            if word[i] == word[i + 1]:
                continue
            typo = word[:i] + word[i + 1] + word[i] + word[i + 2 :]
        elif kind == "drop":
            typo = word[:i] + word[i + 1 :]
        elif kind == "double":
            typo = word[:i] + word[i] + word[i:]
        else:
            options = _NEIGHBOURS.get(word[i], "")
            if not options:
                continue
            typo = word[:i] + rng.choice(options) + word[i + 1 :]
        if typo != word:
            return typo
    return word[:-1]


def typo_query(paper_id: str, keyword: str, document_frequency: dict[str, int]) -> tuple[str, str, str] | None:
    """(query, original word, mistyped word), or None when no word is long enough to mistype."""
    candidates = [w for w in keyword.split() if w.isalpha() and len(w) >= 5]
    if not candidates:
        return None
    target = min(candidates, key=lambda w: (document_frequency.get(w, 0), -len(w)))
    rng = random.Random(f"typo:{paper_id}")
    typo = one_typo(target, rng)
    words = keyword.split()
    words[words.index(target)] = typo
    return " ".join(words), target, typo


def main() -> None:
    papers = load_corpus().papers
    document_frequency: Counter[str] = Counter()
    for paper in papers.values():
        document_frequency.update({w.lower() for w in _WORD.findall(f"{paper.title} {paper.abstract or ''}")})
    keyword_rows, typo_rows = [], []
    for paper_id in sorted(papers):
        keyword = keyword_query(papers[paper_id].title, document_frequency)
        if len(keyword.split()) < 2:
            continue
        keyword_rows.append((paper_id, split_of(paper_id), keyword))
        typo = typo_query(paper_id, keyword, document_frequency)
        if typo is not None:
            typo_rows.append((paper_id, split_of(paper_id), *typo))
    with (DATA / "keyword.tsv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(("id", "split", "query"))
        writer.writerows(keyword_rows)
    with (DATA / "typo.tsv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(("id", "split", "query", "word", "typo"))
        writer.writerows(typo_rows)
    path = DATA / "paraphrase.tsv"
    with path.open(encoding="utf-8") as src:
        rows = list(csv.reader(src, delimiter="\t"))
    header, body = rows[0], rows[1:]
    unknown = [row[0] for row in body if row[0] not in papers]
    if unknown:
        raise SystemExit(f"paraphrase.tsv names papers the fixtures lack: {unknown}")
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        writer.writerows((row[0], split_of(row[0]), row[2]) for row in body)


if __name__ == "__main__":
    main()
