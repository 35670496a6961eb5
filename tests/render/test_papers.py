"""The paper builders: Discord's limits hold for any paper, and paper text is escaped and complete."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.models import Paper, SearchResults, Trending
from bot.render import limits
from bot.render import papers as P
from bot.render.specs import EmbedSpec, MessageSpec, limit_problems
from bot.render.text import escape, truncate

# Text that stresses escaping and splitting: markdown, mentions, backslashes, brackets, newlines, emoji.
_nasty = st.sampled_from(
    [
        "*",
        "_",
        "`",
        "~",
        "|",
        ">",
        "\\",
        "[",
        "]",
        "(",
        ")",
        "#",
        "-",
        "@everyone",
        "@here",
        "<@123456789012345678>",
        "\n",
        "\n\n",
        " ",
        "🤗",
        "https://x.org/a_b_c",
        "**bold**",
        "[x](https://evil.example)",
    ]
)
_text = st.lists(st.one_of(st.text(max_size=40), _nasty), max_size=60).map("".join)
_long_text = st.one_of(
    _text, st.integers(0, 20_000).map(lambda n: ("word " * n)[:n]), st.lists(_text, max_size=400).map(" ".join)
)
_url = st.one_of(st.none(), st.just("https://github.com/org/repo_x"), st.just("not a url"), _text)


@st.composite
def papers(draw: st.DrawFn, *, light: bool = False) -> Paper:
    """Any paper; `light` ones (for lists of 25) skip the huge abstracts and author lists to keep tests fast."""
    return Paper(
        id=draw(st.sampled_from(["2403.07815", "hep-th/9901001", "2609.36435"])),
        title=draw(st.one_of(_text, st.text(min_size=200, max_size=1000))),
        abstract=draw(st.one_of(st.none(), _text if light else _long_text)),
        authors=tuple(draw(st.lists(st.one_of(_text, st.text(max_size=300)), max_size=8 if light else 120))),
        published=draw(st.one_of(st.none(), st.dates())),
        upvotes=draw(st.one_of(st.none(), st.integers(0, 10**6))),
        github_repo=draw(_url),
        github_stars=draw(st.one_of(st.none(), st.integers(0, 10**6))),
        project_page=draw(_url),
        organization=draw(st.one_of(st.none(), _text)),
        thumbnail=draw(_url),
        ai_summary=draw(st.one_of(st.none(), _text)),
        withdrawn=draw(st.one_of(st.none(), st.booleans())),
    )


def assert_within_limits(message: MessageSpec) -> None:
    assert limit_problems(message) == []
    assert message.embeds


def one(embed: EmbedSpec) -> MessageSpec:
    return MessageSpec(embeds=(embed,))


def _no_live_mentions(text: str) -> bool:
    return re.search(r"@(everyone|here|[!&]?\d{17,20})", text) is None


@given(papers())
def test_abstract_messages_respect_every_limit_and_keep_the_whole_abstract(paper: Paper) -> None:
    messages = P.abstract_messages(paper)
    for message in messages:
        assert_within_limits(message)
    assert [m.part for m in messages] == list(range(1, len(messages) + 1))
    head = messages[0].embeds[0]
    assert head.url == paper.url
    descriptions = [e.description or "" for m in messages for e in m.embeds]
    if paper.abstract and paper.abstract.strip():
        # Splitting only drops whitespace at the cuts: the escaped abstract survives, word for word.
        joined = "".join("".join(d.split()) for d in descriptions)
        assert joined == "".join(escape(paper.abstract).split())
    for message in messages:
        for embed in message.embeds:
            for text in (embed.title or "", embed.description or "", *(f.value or "" for f in embed.fields)):
                assert _no_live_mentions(text)


@settings(max_examples=50)
@given(
    st.lists(papers(light=True), min_size=1, max_size=5),
    _text,
    st.sampled_from(["all", "any"]),
    st.integers(0, 10**4),
    st.one_of(st.none(), _long_text),
    st.one_of(st.none(), _long_text),
)
def test_search_page_is_within_limits(
    found: list[Paper], query: str, matched: str, offset: int, notice: str | None, corrected: str | None
) -> None:
    results = SearchResults(
        query=query,
        papers=tuple(found),
        matched=matched,  # type: ignore[arg-type]
        offset=offset,
        has_more=True,
        notice=notice,
        corrected_query=corrected,
    )
    for paper, embed in ((None, P.search_page(results)), (found[0], P.similar_page(found[0], results))):
        assert_within_limits(one(embed))
        assert _no_live_mentions(embed.title or "") and _no_live_mentions(embed.description or "")
        # Budgets fit: the description was not cut, so every entry keeps its date and upvotes line.
        assert (embed.description or "").count(" · ▲ ") == len(found), paper
        for shown in found:
            assert f"]({shown.url})" in (embed.description or "")  # every link is whole
    options = P.search_options(results)
    assert [o.value for o in options] == [p.id for p in found]
    for option in options:
        assert 1 <= len(option.label) <= limits.SELECT_TEXT_MAX
        assert len(option.description or "") <= limits.SELECT_TEXT_MAX


def test_search_page_says_did_you_mean_and_the_notice_first_and_how_it_ranked() -> None:
    paper = Paper(id="2403.07815", title="Chronos", abstract="Forecasting.")
    results = SearchResults(
        query="chronoss",
        papers=(paper,),
        matched="all",
        notice="Semantic ranking is unavailable right now, so these are keyword matches.",
        corrected_query="chronos",
        ranked_by="keyword",
    )
    embed = P.search_page(results)
    lines = (embed.description or "").splitlines()
    assert lines[0] == "Did you mean “chronos”? Showing results for it."
    assert lines[1] == "*Semantic ranking is unavailable right now, so these are keyword matches.*"
    assert embed.footer == "Results 1–1 · ranked by words"
    hybrid = P.search_page(SearchResults(query="x", papers=(paper,), matched="all", ranked_by="hybrid", has_more=True))
    assert hybrid.footer == "Results 1–1 · ranked by words and meaning · more with Next ▶"
    assert (hybrid.description or "").startswith("**1.** [Chronos]")
    by_upvotes = P.search_page(SearchResults(query="x", papers=(paper,), matched="all", sort="upvotes"))
    assert by_upvotes.footer == "Results 1–1 · sorted by upvotes"
    like = P.similar_page(paper, SearchResults(query="Chronos", papers=(paper,), matched="any", offset=5))
    assert like.title == "Papers like “Chronos”" and like.footer == "Results 6–6 · ranked by meaning"


def test_no_results_explains_the_search_syntax_within_the_content_limit() -> None:
    results = SearchResults(query="q", papers=(), matched="none", notice="The search index is not ready yet.")
    text = P.no_results_text("@everyone " * 100, results)
    assert len(text) <= limits.CONTENT_MAX and _no_live_mentions(text)
    assert text.startswith("*The search index is not ready yet.*\nNo papers match")
    for syntax in ("`ti:word`", "`au:name`", "`cat:cs.LG`", "`-word`", "`since:2024-03`", "`until:2024-06-30`"):
        assert syntax in text
    for description in (P.SEARCH_COMMAND_DESCRIPTION, P.SEARCH_QUERY_DESCRIPTION):
        assert len(description) <= 100  # Discord's limit for command and option descriptions
        assert all(field in description for field in ("ti:", "au:", "cat:", "-word", "since:", "until:"))


def test_the_abstract_can_carry_a_similar_papers_button_on_its_last_message() -> None:
    long = Paper(id="2403.07815", title="T", abstract=" ".join(f"word{i}" for i in range(3000)))
    messages = P.abstract_messages(long, similar_button=True)
    assert [m.buttons for m in messages[:-1]] == [()] * (len(messages) - 1)
    (button,) = messages[-1].buttons
    assert (button.label, button.custom_id) == ("Similar papers", "paperbot:similar:2403.07815")
    assert P.abstract_messages(long)[-1].buttons == ()
    # An id too long for a custom_id gets no button rather than one naming a cut (other) paper.
    assert P.abstract_messages(Paper(id="x" * 90, title="T"), similar_button=True)[-1].buttons == ()


def test_no_similar_papers_says_why() -> None:
    paper = Paper(id="2403.07815", title="Chronos")
    empty = SearchResults(query="Chronos", papers=(), matched="none", notice="Similar papers need the paper vectors.")
    assert P.no_similar_text(paper, empty) == "I found no papers like “Chronos”. Similar papers need the paper vectors."


@settings(max_examples=40)
@given(st.lists(papers(light=True), max_size=25), st.sampled_from(["day", "week", "month"]))
def test_trending_embed_is_within_limits_for_up_to_25_papers(found: list[Paper], period: str) -> None:
    day = dt.date(2024, 3, 20)
    trending = Trending(period=period, first_day=day, last_day=day, papers=tuple(found))  # type: ignore[arg-type]
    embed = P.trending_embed(trending)
    assert_within_limits(one(embed))
    for paper in found:
        assert paper.url in (embed.description or "")


def test_title_with_markdown_and_everyone_is_escaped() -> None:
    paper = Paper(id="2403.00001", title="**Bold** @everyone _look_ [x](https://evil.example)", abstract="Hi @here.")
    head = P.abstract_messages(paper)[0].embeds[0]
    assert head.title is not None
    assert "@\u200beveryone" in head.title and "\\*\\*Bold\\*\\*" in head.title and "\\_look\\_" in head.title
    assert "@\u200bhere" in (head.description or "")
    page = P.search_page(SearchResults(query="@everyone", papers=(paper,), matched="all"))
    assert "@\u200beveryone" in (page.title or "")
    # In a masked link the label's brackets are escaped too, so the link cannot be hijacked.
    assert "](https://evil.example)" not in (page.description or "").replace("\\]", "")


def test_titles_are_cut_at_256_without_a_dangling_escape() -> None:
    paper = Paper(id="2403.00001", title="a" * 254 + "*" * 10)
    head = P.abstract_messages(paper)[0].embeds[0]
    assert head.title is not None and len(head.title) <= 256 and head.title.endswith("…")
    assert not head.title[:-1].endswith("\\") or head.title[:-1].endswith("\\\\")


def test_long_abstract_is_split_across_embeds_and_messages() -> None:
    abstract = " ".join(f"word{i}" for i in range(3000))  # ~26 000 characters
    messages = P.abstract_messages(Paper(id="2403.00001", title="Long", abstract=abstract))
    assert len(messages) >= 5  # 6000 per message caps how much of it one message carries
    embeds = [e for m in messages for e in m.embeds]
    assert len(embeds) >= 7
    assert " ".join(e.description or "" for e in embeds).split() == abstract.split()


def test_abstract_of_4097_characters_needs_two_embeds() -> None:
    abstract = ("x" * 99 + " ") * 40 + "y" * 97  # 4097 characters
    assert len(abstract) == 4097
    messages = P.abstract_messages(Paper(id="2403.00001", title="T", abstract=abstract))
    assert sum(len(m.embeds) for m in messages) == 2


def test_summary_prefers_ai_summary_then_first_sentences() -> None:
    paper = Paper(id="1", title="T", abstract="We propose X.  It is\ngood. More text.")
    assert P.summary(paper, 200) == "We propose X."
    assert P.summary(paper, 200, sentences=2) == "We propose X. It is good."
    assert P.summary(paper, 20, sentences=2) == "We propose X."  # the second sentence does not fit
    assert P.summary(Paper(id="1", title="T", abstract="x", ai_summary="TL;DR here"), 200) == "TL;DR here"
    assert P.summary(Paper(id="1", title="T"), 200) == ""


def test_abstract_embed_carries_links_metadata_and_thumbnail() -> None:
    paper = Paper(
        id="2403.07815",
        title="Chronos",
        abstract="A.",
        authors=("Ann", "Bo"),
        published=dt.date(2024, 3, 12),
        upvotes=42,
        github_repo="https://github.com/amazon-science/chronos-forecasting",
        github_stars=2000,
        project_page="https://example.org/chronos",
        organization="Amazon",
        thumbnail="https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/2403.07815.png",
    )
    head = P.abstract_messages(paper)[0].embeds[0]
    fields = {f.name: f.value for f in head.fields}
    assert fields["Authors"] == "Ann, Bo"
    assert fields["arXiv date"] == "2024-03-12"
    assert fields["Upvotes"] == "42"
    assert fields["Organization"] == "Amazon"
    assert "★ 2.0k" in (fields["Code"] or "")  # stars read the same as in the digest
    assert fields["Project page"] == "https://example.org/chronos"
    assert "https://arxiv.org/pdf/2403.07815" in (fields["Links"] or "")
    assert head.thumbnail == paper.thumbnail


def test_empty_trending_says_what_to_do() -> None:
    embed = P.trending_embed(Trending(period="week", first_day=None, last_day=None, papers=()))
    assert "No papers" in (embed.description or "")


@given(st.text(alphabet="ab\\ *_", max_size=50), st.integers(1, 60))
def test_truncate_never_leaves_a_dangling_escape(text: str, limit: int) -> None:
    escaped = escape(text)
    cut = truncate(escaped, limit)
    assert len(cut) <= limit
    if cut != escaped:
        body = cut.removesuffix("…")
        assert (len(body) - len(body.rstrip("\\"))) % 2 == 0
