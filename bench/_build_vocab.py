"""Build `bench/data/vocab.json` from the real texts in the shared test fixtures (run once, output committed).

The synthetic corpus must look like arXiv text to a search engine: the same head vocabulary with the same
frequencies, the same common word pairs (so phrase and two-word queries hit), and the same title/abstract
length distributions. All of that is learned here from the real abstracts and titles in `tests/fixtures`
(Hugging Face `paper.summary`/`title`, arXiv Atom feeds, snapshot lines), so the benchmark needs no network
and no data set download. Usage: `python -m bench._build_vocab [FIXTURES_DIR]`.
"""

from __future__ import annotations

import itertools
import json
import re
import sys
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

_ATOM = "{http://www.w3.org/2005/Atom}"
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
OUT = Path(__file__).with_name("data") / "vocab.json"


def _texts(fixtures: Path) -> tuple[list[str], list[str], list[str]]:
    """Return (titles, abstracts, author names) from every fixture file, deduplicated by paper id."""
    titles: dict[str, str] = {}
    abstracts: dict[str, str] = {}
    authors: set[str] = set()
    for path in sorted((fixtures / "hf").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list):
            continue
        for item in data:
            paper = item.get("paper", {})
            pid = paper.get("id")
            if not pid:
                continue
            titles[pid] = paper.get("title", "")
            abstracts[pid] = paper.get("summary", "")
            authors.update(a.get("name", "") for a in paper.get("authors", []))
    bodies: list[str] = []
    for path in sorted((fixtures / "arxiv").iterdir()):
        if path.suffix == ".json":
            bodies.append(json.loads(path.read_text(encoding="utf-8")).get("body", ""))
        elif path.suffix == ".xml":
            bodies.append(path.read_text(encoding="utf-8"))
    for body in bodies:
        try:
            root = ET.fromstring(body.encode("utf-8"))
        except ET.ParseError:
            continue
        for entry in root.iter(f"{_ATOM}entry"):
            pid = entry.findtext(f"{_ATOM}id", "")
            title = entry.findtext(f"{_ATOM}title", "")
            if "/api/errors" in pid or title == "Error":
                continue
            titles[pid] = title
            abstracts[pid] = entry.findtext(f"{_ATOM}summary", "")
            authors.update(a.findtext(f"{_ATOM}name", "") for a in entry.iter(f"{_ATOM}author"))
    for path in sorted((fixtures / "arxiv-snapshot").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            titles[record["id"]] = record["title"]
            abstracts[record["id"]] = record["abstract"]
            authors.update(" ".join(p for p in (a[1], a[0]) if p) for a in record["authors_parsed"])
    return list(titles.values()), [a for a in abstracts.values() if a.strip()], sorted(a for a in authors if a)


def build(fixtures: Path) -> dict[str, object]:
    """Learn the vocabulary model from the fixture texts."""
    titles, abstracts, authors = _texts(fixtures)
    unigrams: Counter[str] = Counter()
    bigrams: defaultdict[str, Counter[str]] = defaultdict(Counter)
    title_words: Counter[str] = Counter()
    for text, is_title in [(t, True) for t in titles] + [(a, False) for a in abstracts]:
        words = [w.lower() for w in _WORD.findall(text)]
        (title_words if is_title else unigrams).update(words)
        for prev, nxt in itertools.pairwise(words):
            bigrams[prev][nxt] += 1
    unigrams.update(title_words)
    head = [w for w, _ in unigrams.most_common()]
    return {
        "source": "tests/fixtures (hf paper.summary/title, arXiv Atom summaries/titles, snapshot lines)",
        "papers": len(abstracts),
        "words": [[w, unigrams[w]] for w in head],
        "title_words": [[w, c] for w, c in title_words.most_common() if c >= 2],
        # Only pairs seen at least twice: single pairs would copy fixture sentences verbatim.
        "bigrams": {
            prev: [[w, c] for w, c in nxt.most_common(40) if c >= 2]
            for prev, nxt in sorted(bigrams.items())
            if sum(c for c in nxt.values() if c >= 2) >= 4
        },
        "title_lengths": sorted(len(_WORD.findall(t)) for t in titles if t.strip()),
        "abstract_lengths": sorted(len(_WORD.findall(a)) for a in abstracts),
        "authors": authors,
    }


def main() -> None:
    """Write bench/data/vocab.json."""
    fixtures = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parents[1] / "tests" / "fixtures"
    model = build(fixtures)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(model, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    print(f"{OUT}: {model['papers']} abstracts, {len(model['words'])} words")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
