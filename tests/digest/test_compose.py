"""compose(): ordering, filters, top_n and the three empty_days modes; render(): Discord's limits."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from bot.digest.compose import compose, matches, rank, select
from bot.discord_ui.adapter import embeds_for
from bot.models import Paper, Subscription
from bot.render.digest import SUMMARY_MAX, parse_marker, render
from bot.render.limits import EMBEDS_PER_MESSAGE as MAX_EMBEDS
from bot.render.limits import MESSAGE_EMBED_CHARS as MAX_MESSAGE_CHARS
from bot.render.papers import summary
from bot.render.plain import rendered_text as to_text
from bot.render.specs import messages_from_json, messages_to_json
from bot.render.text import escape, shorten_authors
from tests.digest.conftest import make_paper

DAY = dt.date(2026, 11, 25)
LOCAL = dt.date(2026, 11, 26)


def sub(**kw: object) -> Subscription:
    return Subscription(channel_id=1, **kw)  # type: ignore[arg-type]


def test_orders_by_upvotes_then_id_and_cuts_to_top_n() -> None:
    papers = [make_paper(3, upvotes=5), make_paper(1, upvotes=9), make_paper(2, upvotes=9), make_paper(4, upvotes=1)]
    digest = compose(papers, sub(top_n=3), DAY)
    assert [p.id for p in digest.papers] == ["2511.00001", "2511.00002", "2511.00003"]
    assert digest.kind == "list" and digest.total_listed == 4


def test_min_upvotes_and_keywords_filter_on_title_abstract_and_ai_keywords() -> None:
    papers = [
        make_paper(1, title="Diffusion for video", upvotes=50),
        make_paper(2, abstract="A new REINFORCEMENT learning method.", upvotes=40),
        make_paper(3, ai_keywords=("Mixture of Experts",), upvotes=30),
        make_paper(4, title="Unrelated", upvotes=20),
        make_paper(5, title="diffusion again", upvotes=2),
    ]
    s = sub(keywords=("diffusion", "reinforcement  learning", "mixture of experts"), min_upvotes=10)
    assert [p.id[-1] for p in compose(papers, s, DAY).papers] == ["1", "2", "3"]
    assert not matches(make_paper(9, title="x", abstract=None, ai_keywords=None), ["diffusion"])
    assert matches(make_paper(9), [" ", ""])  # blank keywords mean "everything"


def test_keywords_match_at_word_starts() -> None:
    paper = make_paper(1, title="Transformers for the world", abstract="We use RLHF and vision-language\nmodels.")
    assert matches(paper, ["transformer"]) and matches(paper, ["rl"]) and matches(paper, ["Vision-Language  Models"])
    assert not matches(paper, ["orld"]) and not matches(paper, ["former"])
    assert matches(make_paper(2, title="C++ (and) [brackets]"), ["c++", "[brackets]"])


def test_empty_day_modes() -> None:
    week = [make_paper(1, upvotes=3), make_paper(2, upvotes=70)]
    skip = compose([], sub(empty_days="skip"), DAY, week_papers=week)
    note = compose([], sub(empty_days="note"), DAY, week_papers=week)
    best = compose([], sub(empty_days="week", top_n=1), DAY, week_papers=week)
    assert skip.kind == "skip" and not render(skip, LOCAL).messages
    assert note.kind == "note" and note.papers == () and "No papers were listed on 2026-11-25" in note.notes[0]
    assert best.kind == "week" and [p.id for p in best.papers] == ["2511.00002"]
    note_msgs = render(note, LOCAL).messages
    assert len(note_msgs) == 1 and len(note_msgs[0].embeds) == 1
    assert "No papers were listed" in (note_msgs[0].embeds[0].description or "")
    # Week mode with nothing all week falls back to the note.
    assert compose([], sub(empty_days="week"), DAY, week_papers=[]).kind == "note"


def test_filters_that_remove_everything_get_the_empty_treatment() -> None:
    digest = compose([make_paper(1)], sub(keywords=("quantum",)), DAY)
    assert digest.kind == "note" and "None of the 1 papers" in digest.notes[0]


def test_rank_counts_a_paper_listed_twice_once_with_its_best_upvotes() -> None:
    ranked = rank([make_paper(1, upvotes=5), make_paper(1, upvotes=8), make_paper(2, upvotes=6)])
    assert [(p.id, p.upvotes) for p in ranked] == [("2511.00001", 8), ("2511.00002", 6)]


def test_header_links_the_day_and_counts_papers() -> None:
    papers = [make_paper(i) for i in range(1, 13)]
    rendered = render(compose(papers, sub(top_n=5), DAY), LOCAL)
    header = rendered.messages[0].embeds[0]
    assert header.url == "https://huggingface.co/papers/date/2026-11-25"
    assert "Top 5 of 12 papers" in (header.description or "")
    assert "2026-11-25" in (header.title or "")


def test_paper_embed_is_compact_and_complete() -> None:
    paper = make_paper(
        1, title="*Bold* [claims] @everyone", ai_summary=None, abstract="First one. Second one. Third one."
    )
    embed = render(compose([paper], sub(), DAY), LOCAL).messages[0].embeds[1]
    assert embed.url == "https://huggingface.co/papers/2511.00001"
    assert embed.title == "1. \\*Bold\\* \\[claims\\] @\u200beveryone"
    # One author style everywhere (search, abstract, CLI): "et al." after three names.
    assert embed.author == "Ada Lovelace, Alan Turing, Grace Hopper et al."
    assert embed.description is not None
    assert embed.description.startswith("First one. Second one.") and "Third" not in embed.description
    assert "▲ 99" in embed.description and "Example Lab" in embed.description
    assert "[GitHub](https://github.com/example/p1) ★ 1.2k" in embed.description
    assert embed.thumbnail and embed.thumbnail.endswith("2511.00001.png")


def test_summary_prefers_the_ai_summary() -> None:
    assert summary(make_paper(1, ai_summary="  A  TL;DR. "), SUMMARY_MAX) == "A TL;DR."
    assert summary(make_paper(1, abstract=None, ai_summary=None), SUMMARY_MAX) == ""
    assert shorten_authors(()) is None


def test_25_papers_with_long_abstracts_respect_message_limits() -> None:
    papers = [
        make_paper(
            i,
            title="T" * 400,
            abstract=("word " * 3000),
            authors=tuple(f"Author {j} " * 20 for j in range(40)),
            organization="O" * 500,
        )
        for i in range(25)
    ]
    rendered = render(compose(papers, sub(top_n=25), DAY), LOCAL)
    assert sum(len(m.embeds) for m in rendered.messages) == 26
    for message in rendered.messages:
        assert len(message.embeds) <= MAX_EMBEDS
        assert message.size() <= MAX_MESSAGE_CHARS
    # Every message carries the marker, numbered, so a restart can find each part.
    parts = [parse_marker(m.embeds[-1].footer or "") for m in rendered.messages]
    assert parts == [(LOCAL, i, len(parts)) for i in range(1, len(parts) + 1)]


def test_payload_round_trips_and_text_shows_everything() -> None:
    rendered = render(compose([make_paper(1), make_paper(2)], sub(), DAY), LOCAL)
    assert messages_from_json(messages_to_json(rendered.messages)) == rendered.messages
    text = to_text(rendered)
    assert "Paper number 1" in text and "https://huggingface.co/papers/date/2026-11-25" in text
    assert "paperbot digest 2026-11-26 · 1/1" in text


def test_escape_markdown_neutralises_formatting() -> None:
    assert escape("# a_b *c* `d` ~e~ |f| [g]") == "\\# a\\_b \\*c\\* \\`d\\` \\~e\\~ \\|f\\| \\[g\\]"


papers_strategy = st.lists(
    st.builds(
        Paper,
        id=st.from_regex(r"2[0-9]{3}\.[0-9]{5}", fullmatch=True),
        title=st.text(min_size=1, max_size=600),
        abstract=st.none() | st.text(max_size=5000),
        authors=st.lists(st.text(max_size=300), max_size=60).map(tuple),
        upvotes=st.none() | st.integers(min_value=0, max_value=10_000),
        organization=st.none() | st.text(max_size=400),
        github_repo=st.none() | st.just("https://github.com/a/b"),
        github_stars=st.none() | st.integers(min_value=0, max_value=10**6),
        ai_summary=st.none() | st.text(max_size=2000),
        ai_keywords=st.none() | st.lists(st.text(max_size=40), max_size=10).map(tuple),
        thumbnail=st.none() | st.text(max_size=50),
    ),
    max_size=40,
)


@given(
    papers=papers_strategy,
    top_n=st.integers(min_value=1, max_value=25),
    min_upvotes=st.integers(min_value=0, max_value=200),
    keywords=st.lists(st.text(max_size=10), max_size=3),
    empty_days=st.sampled_from(["skip", "note", "week"]),
)
def test_any_digest_is_ordered_filtered_and_fits_discord(
    papers: list[Paper], top_n: int, min_upvotes: int, keywords: list[str], empty_days: str
) -> None:
    s = sub(top_n=top_n, min_upvotes=min_upvotes, keywords=tuple(keywords), empty_days=empty_days)
    digest = compose(papers, s, DAY, week_papers=papers)
    chosen = digest.papers
    assert len(chosen) <= top_n
    assert len({p.id for p in chosen}) == len(chosen)
    keys = [(-(p.upvotes or 0), p.id) for p in chosen]
    assert keys == sorted(keys)
    assert all((p.upvotes or 0) >= min_upvotes and matches(p, keywords) for p in chosen)
    if digest.kind == "list":
        assert chosen == tuple(select(papers, s))
    rendered = render(digest, LOCAL)
    assert (digest.kind == "skip") == (not rendered.messages)
    for message in rendered.messages:
        assert 1 <= len(message.embeds) <= MAX_EMBEDS
        assert message.size() <= MAX_MESSAGE_CHARS
        for embed in message.embeds:
            assert len(embed.title or "") <= 256 and len(embed.description or "") <= 4096
            assert len(embed.author or "") <= 256 and len(embed.footer or "") <= 2048


@given(papers=papers_strategy, top_n=st.integers(min_value=1, max_value=25))
def test_discord_embeds_built_from_specs_have_the_sizes_we_packed_for(papers: list[Paper], top_n: int) -> None:
    for message in render(compose(papers, sub(top_n=top_n), DAY), LOCAL).messages:
        embeds = embeds_for(message)
        # discord.py's own len(Embed) is what Discord's 6000 rule counts.
        assert sum(len(e) for e in embeds) == message.size() <= MAX_MESSAGE_CHARS
        assert len(embeds) <= MAX_EMBEDS
