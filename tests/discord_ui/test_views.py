"""Where a paginator's later pages come from: the same search as its first page, ranked the same way."""

from __future__ import annotations

from bot.discord_ui.views import SearchPages
from bot.search import SearchService


async def test_later_search_pages_keep_the_first_pages_ranking_and_sort(filled_search: SearchService) -> None:
    assert filled_search.mode == "hybrid"
    first = await filled_search.search("diffusion", limit=5, mode="keyword")
    assert first.ranked_by == "keyword" and first.has_more
    second = await SearchPages.continuing(filled_search, first).fetch(5, 5)
    assert (second.query, second.offset, second.ranked_by) == ("diffusion", 5, "keyword")
    assert second.papers and not {p.id for p in second.papers} & {p.id for p in first.papers}

    by_votes = await filled_search.search("diffusion", limit=5, sort="upvotes")
    later = await SearchPages.continuing(filled_search, by_votes).fetch(5, 5)
    assert later.sort == "upvotes"
    votes = [p.upvotes or 0 for p in (*by_votes.papers, *later.papers)]
    assert votes == sorted(votes, reverse=True)
