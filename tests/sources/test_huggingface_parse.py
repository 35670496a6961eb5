"""The pure Hugging Face parser: every recorded day, every era of FORMATS.md, partial and broken items."""

from __future__ import annotations

import copy
import datetime as dt
import json
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from bot.sources._text import MalformedResponse, as_int, collapse_paragraphs, parse_date
from bot.sources.huggingface import decode_json, parse_daily_papers, parse_paper
from tests.fixture_server import FIXTURES

HF = FIXTURES / "hf"
DAY_FILES = sorted(HF.glob("hf_daily_papers_*.json"))
D = dt.date(2026, 5, 20)


def _day(path: Path) -> dt.date:
    match = re.search(r"\d{4}-\d{2}-\d{2}", path.name)
    assert match is not None
    return dt.date.fromisoformat(match[0])


def _load(day: str) -> list[Any]:
    (path,) = [p for p in DAY_FILES if f"_{day}_" in p.name]
    return json.loads(path.read_bytes())  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------ recorded days

EXPECTED_COUNTS = {
    "2024-03-13": 8,
    "2024-03-15": 14,
    "2024-03-18": 11,
    "2024-03-19": 13,
    "2024-03-20": 13,
    "2024-03-21": 18,
    "2024-03-25": 13,
    "2024-03-26": 8,
    "2024-03-27": 9,
    "2024-03-28": 10,
    "2024-04-02": 12,
    "2024-04-03": 11,
    "2024-05-27": 13,
    "2024-05-28": 15,
    "2024-05-29": 8,
    "2024-05-30": 12,
    "2024-05-31": 11,
    "2025-09-10": 13,
}


def test_every_recorded_day_is_covered() -> None:
    assert sorted(str(_day(p)) for p in DAY_FILES) == sorted(EXPECTED_COUNTS)


@pytest.mark.parametrize("path", DAY_FILES, ids=lambda p: str(_day(p)))
def test_each_recorded_day_parses_completely(path: Path, caplog: pytest.LogCaptureFixture) -> None:
    raw = json.loads(path.read_bytes())
    day = _day(path)
    with caplog.at_level(logging.WARNING, logger="bot.sources.huggingface"):
        entries = parse_daily_papers(decode_json(path.read_bytes()), day)
    assert caplog.records == []
    assert len(entries) == EXPECTED_COUNTS[str(day)] == len(raw)
    assert {e.paper.id for e in entries} == {item["paper"]["id"] for item in raw}
    assert all(e.day == day for e in entries)
    assert [e.upvotes for e in entries] == sorted((e.upvotes for e in entries), reverse=True)
    for entry in entries:
        paper = entry.paper
        assert entry.upvotes == paper.upvotes
        assert paper.title and "\n" not in paper.title and "  " not in paper.title
        assert paper.abstract and "\n\n\n" not in paper.abstract
        assert all("\n" not in part for part in paper.abstract.split("\n\n"))
        assert paper.authors
        assert paper.published is not None and paper.published <= day
        assert paper.thumbnail is not None and paper.thumbnail.startswith("https://")
        assert paper.num_comments is not None
        assert paper.categories is None  # HF has none (FORMATS.md §3)


def test_chronos_fields_2024_h1() -> None:
    entries = parse_daily_papers(_load("2024-03-13"), dt.date(2024, 3, 13))
    chronos = next(e for e in entries if e.paper.id == "2403.07815")
    paper = chronos.paper
    assert paper.title == "Chronos: Learning the Language of Time Series"
    assert paper.published == dt.date(2024, 3, 12)  # arXiv date, not the list day
    assert chronos.day == dt.date(2024, 3, 13)
    assert chronos.upvotes == paper.upvotes == 15
    assert paper.num_comments == 0
    assert len(paper.authors) == 17
    assert paper.thumbnail == "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2403.07815.png"
    assert paper.abstract is not None and paper.abstract.startswith("We introduce Chronos")
    # 2024-H1 has none of the later fields: unknown, not empty.
    assert (paper.github_repo, paper.ai_summary, paper.ai_keywords, paper.organization) == (None, None, None, None)
    assert paper.withdrawn is None


def test_wrapped_paper_title_is_collapsed() -> None:
    entries = parse_daily_papers(_load("2024-03-13"), dt.date(2024, 3, 13))
    motion = next(e.paper for e in entries if e.paper.id == "2403.07487")
    assert motion.title == (
        "Motion Mamba: Efficient and Long Sequence Motion Generation with Hierarchical and Bidirectional Selective SSM"
    )


def test_abstract_keeps_paragraph_breaks_and_collapses_wraps() -> None:
    entries = parse_daily_papers(_load("2024-03-20"), dt.date(2024, 3, 20))
    paper = next(e.paper for e in entries if e.paper.id == "2403.12968")
    assert paper.abstract is not None
    paragraphs = paper.abstract.split("\n\n")
    assert len(paragraphs) == 3
    assert paragraphs[1].startswith("To address these issues, we propose")
    assert "compression objective" in paper.abstract  # "compression\nobjective" was a hard wrap


def test_hidden_authors_are_kept() -> None:
    raw = _load("2024-03-19")
    item = next(i for i in raw if i["paper"]["id"] == "2403.10615")
    assert any(a["name"] == "Peter Kocsis" and a["hidden"] for a in item["paper"]["authors"])
    paper = next(e.paper for e in parse_daily_papers(raw, dt.date(2024, 3, 19)) if e.paper.id == "2403.10615")
    assert "Peter Kocsis" in paper.authors
    assert len(paper.authors) == len(item["paper"]["authors"])


def test_2025_fields() -> None:
    entries = parse_daily_papers(_load("2025-09-10"), dt.date(2025, 9, 10))
    by_id = {e.paper.id: e.paper for e in entries}
    top = by_id["2509.07980"]
    assert top.upvotes == 59 and top.num_comments == 2
    assert top.github_repo == "https://github.com/zhengkid/Parallel-R1"
    assert top.github_stars == 19
    assert top.ai_summary is not None and top.ai_summary.startswith("Parallel-R1, a reinforcement learning framework")
    assert top.ai_keywords is not None and top.ai_keywords[:2] == ("parallel thinking", "reinforcement learning")
    assert top.thumbnail == "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2509.07980.png"
    assert top.published == dt.date(2025, 9, 9)
    assert top.project_page is None
    viral = by_id["2509.07979"]
    assert viral.github_repo is None and viral.github_stars is None
    assert viral.project_page == "https://cvlab-kaist.github.io/VIRAL/"
    assert sum(p.github_repo is not None for p in by_id.values()) == 7
    assert all(p.ai_summary for p in by_id.values())
    assert all(p.organization is None for p in by_id.values())


def test_non_ascii_text_survives() -> None:
    text = json.dumps(_load("2025-09-10"), ensure_ascii=False)
    assert "é" in text or "ç" in text or "Δ" in text
    entries = parse_daily_papers(_load("2025-09-10"), dt.date(2025, 9, 10))
    joined = " ".join((e.paper.abstract or "") + " ".join(e.paper.authors) for e in entries)
    assert any(ch in joined for ch in "éçΔ")


# ------------------------------------------------------------------------------ synthetic eras / shapes


def _item_2024_h2() -> dict[str, Any]:
    return {
        "paper": {
            "id": "2410.17897",
            "authors": [
                {"_id": "a1", "name": "Florian Tramèr", "hidden": False, "user": {"user": "ftramer"}},
                {"_id": "a2", "name": "Hidden Person", "hidden": True},
            ],
            "publishedAt": "2024-10-23T14:02:03.000Z",
            "title": "Some Title With A\n  Wrap",
            "summary": "First line\nwraps here.\n  Second paragraph\nalso wraps.",
            "upvotes": 12,
            "discussionId": "671a0b2c9a8b7c6d5e4f3a2b",
        },
        "publishedAt": "2024-10-25T01:02:03.456Z",
        "title": "Some Title With A Wrap",
        "thumbnail": "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2410.17897.png",
        "mediaUrls": ["https://cdn-uploads.huggingface.co/x.mp4"],
        "submittedBy": {"avatarUrl": "/avatars/x.svg", "fullname": "A B", "name": "ab", "type": "user"},
        "numComments": 3,
    }


def _item_2026() -> dict[str, Any]:
    return {
        "paper": {
            "id": "2605.15141",
            "authors": [{"_id": "x", "name": "Ada  Lovelace", "hidden": False}],
            "publishedAt": "2026-05-18T00:00:00.000Z",
            "submittedOnDailyAt": "2026-05-20T03:00:00.000Z",
            "submittedOnDailyBy": {"_id": "u", "user": "ada", "fullname": "Ada", "name": "ada"},
            "title": "A 2026 Paper",
            "summary": "One-line abstract of 2026.",
            "upvotes": 12.0,
            "discussionId": "6a0000000000000000000000",
            "ai_summary": "An AI  summary.",
            "ai_keywords": ["RL", "reinforcement learning", "RL", "  ", 7],
            "githubStars": 34.0,
            "projectPage": "https://github.com/org/proj",
            "organization": {"_id": "o", "name": "thu-ml", "fullname": "Tsinghua Machine Learning Group"},
            "mediaUrls": [],
        },
        "publishedAt": "2026-05-20T03:00:00.000Z",
        "title": "A 2026 Paper",
        "summary": "One-line abstract of 2026.",
        "thumbnail": "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2605.15141.png",
        "numComments": 5.0,
        "submittedBy": {"_id": "u", "name": "ada", "fullname": "Ada", "type": "user", "isHfAdmin": False},
        "isAuthorParticipating": True,
    }


def test_2024_h2_item() -> None:
    (entry,) = parse_daily_papers([_item_2024_h2()], dt.date(2024, 10, 25))
    paper = entry.paper
    assert paper.title == "Some Title With A Wrap"
    assert paper.abstract == "First line wraps here.\n\nSecond paragraph also wraps."
    assert paper.authors == ("Florian Tramèr", "Hidden Person")
    assert paper.thumbnail == "https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2410.17897.png"
    assert paper.published == dt.date(2024, 10, 23)
    assert entry.day == dt.date(2024, 10, 25)
    assert (entry.upvotes, paper.num_comments) == (12, 3)


def test_2026_item_with_float_counts_and_paper_level_fields() -> None:
    (entry,) = parse_daily_papers([_item_2026()], D)
    paper = entry.paper
    assert entry.upvotes == 12 and isinstance(entry.upvotes, int)
    assert paper.num_comments == 5
    assert paper.github_repo is None  # projectPage can be a GitHub URL while githubRepo is absent
    assert paper.github_stars == 34
    assert paper.project_page == "https://github.com/org/proj"
    assert paper.organization == "Tsinghua Machine Learning Group"
    assert paper.ai_summary == "An AI summary."
    assert paper.ai_keywords == ("RL", "reinforcement learning")
    assert paper.authors == ("Ada Lovelace",)
    assert paper.published == dt.date(2026, 5, 18)
    assert paper.withdrawn is None


def test_item_level_organization_and_summary_fallbacks() -> None:
    item = _item_2026()
    del item["paper"]["organization"]
    del item["paper"]["summary"]
    item["organization"] = {"name": "slug-only"}
    (entry,) = parse_daily_papers([item], D)
    assert entry.paper.organization == "slug-only"
    assert entry.paper.abstract == "One-line abstract of 2026."


def test_item_title_is_the_fallback_for_a_missing_paper_title() -> None:
    item = _item_2026()
    item["paper"]["title"] = None
    item["title"] = "Fallback\n  Title"
    (entry,) = parse_daily_papers([item], D)
    assert entry.paper.title == "Fallback Title"


def test_nulls_are_the_same_as_missing() -> None:
    item = _item_2026()
    for key in ("ai_summary", "ai_keywords", "githubRepo", "githubStars", "projectPage", "organization", "summary"):
        item["paper"][key] = None
    for key in ("summary", "thumbnail", "numComments", "organization"):
        item[key] = None
    (entry,) = parse_daily_papers([item], D)
    p = entry.paper
    assert (p.ai_summary, p.ai_keywords, p.github_repo, p.github_stars, p.project_page, p.organization) == (None,) * 6
    assert (p.abstract, p.thumbnail, p.num_comments) == (None, None, None)


def test_withdrawn_at() -> None:
    item = _item_2026()
    item["paper"]["withdrawnAt"] = "2026-05-21T00:00:00.000Z"
    assert parse_daily_papers([item], D)[0].paper.withdrawn is True
    item["paper"]["withdrawnAt"] = None
    assert parse_daily_papers([item], D)[0].paper.withdrawn is False


def test_wrong_types_in_optional_fields_are_unknown() -> None:
    item = _item_2026()
    item["paper"]["githubStars"] = "many"
    item["paper"]["ai_keywords"] = "not a list"
    item["numComments"] = 2.5
    item["thumbnail"] = 17
    (entry,) = parse_daily_papers([item], D)
    assert (entry.paper.github_stars, entry.paper.ai_keywords, entry.paper.num_comments) == (None, None, None)
    assert entry.paper.thumbnail is None


def test_missing_upvotes_rank_as_zero() -> None:
    item = _item_2026()
    del item["paper"]["upvotes"]
    (entry,) = parse_daily_papers([item], D)
    assert entry.upvotes == 0 and entry.paper.upvotes is None


@pytest.mark.parametrize(
    ("breakage", "reason"),
    [
        (lambda item: item.pop("paper"), "no paper object"),
        (lambda item: item.__setitem__("paper", "2605.15141"), "no paper object"),
        (lambda item: item["paper"].pop("id"), "has no id"),
        (lambda item: item["paper"].__setitem__("id", "not-an-id"), "not an arXiv id"),
        (lambda item: (item["paper"].pop("title"), item.pop("title")), "has no title"),
        (lambda item: item["paper"].__setitem__("authors", "Ada Lovelace"), "expected a list"),
    ],
)
def test_one_malformed_item_is_logged_and_skipped(breakage: Any, reason: str, caplog: pytest.LogCaptureFixture) -> None:
    good = _load("2024-03-13")
    broken = copy.deepcopy(good[3])
    breakage(broken)
    items = [*good[:3], broken, 42, *good[4:]]
    with caplog.at_level(logging.WARNING, logger="bot.sources.huggingface"):
        entries = parse_daily_papers(items, dt.date(2024, 3, 13))
    assert len(entries) == len(good) - 1
    messages = [r.getMessage() for r in caplog.records if r.name == "bot.sources.huggingface"]
    assert len(messages) == 2
    assert reason in messages[0] and "#3" in messages[0]
    assert "#4" in messages[1] and "expected an object" in messages[1]


def test_duplicate_ids_keep_the_first() -> None:
    first = _item_2026()
    second = copy.deepcopy(first)
    second["paper"]["upvotes"] = 1
    entries = parse_daily_papers([first, second], D)
    assert [e.upvotes for e in entries] == [12]


def test_entries_are_sorted_by_upvotes_whatever_the_served_order() -> None:
    items = list(reversed(_load("2024-03-13")))
    entries = parse_daily_papers(items, dt.date(2024, 3, 13))
    assert [e.upvotes for e in entries] == sorted((e.upvotes for e in entries), reverse=True)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"error": "Invalid date"}, "Hugging Face answered an error: Invalid date"),
        ({"papers": []}, "expected a JSON array of daily items, got an object"),
        ("text", "got str"),
        (None, "got NoneType"),
    ],
)
def test_payload_that_is_not_a_list(payload: object, message: str) -> None:
    with pytest.raises(MalformedResponse, match=re.escape(message)):
        parse_daily_papers(payload, D)


def test_empty_list_is_an_empty_day() -> None:
    assert parse_daily_papers([], D) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty body"),
        (b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", "got an HTML/XML page"),
        (b'[{"paper": {"id": "2403.07815", "title": "Chro', "truncated JSON"),
        (b"[1, 2,]", "invalid JSON: Expecting value at character 6"),
        (b'[{"a": 1},', "truncated JSON"),
        (b"\xff\xfe\x00garbage", "not UTF-8 JSON"),
    ],
)
def test_decode_json_explains_what_arrived(body: bytes, message: str) -> None:
    with pytest.raises(MalformedResponse, match=re.escape(message)):
        decode_json(body)


def test_parse_paper_for_a_single_paper_body() -> None:
    paper_obj = _load("2025-09-10")[0]["paper"]
    paper = parse_paper(paper_obj)
    assert paper.id == "2509.07980"
    assert paper.num_comments is None and paper.thumbnail is None  # not in /api/papers bodies


# ----------------------------------------------------------------------------------------- text helpers


def test_text_helpers() -> None:
    assert collapse_paragraphs("  a\nb\n  c\n\n\nd  ") == "a b\n\nc\n\nd"
    assert collapse_paragraphs("   ") == ""
    assert as_int(12.0) == 12 and as_int(True) is None and as_int(1.5) is None and as_int("3") is None
    assert as_int(float("inf")) is None
    assert parse_date("2024-03-12T16:53:54.000Z") == dt.date(2024, 3, 12)
    assert parse_date("2024-03-12T23:30:00-04:00") == dt.date(2024, 3, 13)  # UTC date
    assert parse_date("2024-03-12") == dt.date(2024, 3, 12)
    assert parse_date("yesterday") is None and parse_date(None) is None
