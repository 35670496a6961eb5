"""Fusion rules: pinned first, all-words keyword matches keep their first page, either side may be missing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.semantic.fusion import FusionWeights, fuse, reciprocal_rank_fusion


def test_no_semantic_side_gives_the_keyword_order() -> None:
    assert fuse(["a", "b", "c"], "any", []) == ["a", "b", "c"]


def test_no_keyword_side_gives_the_semantic_order() -> None:
    assert fuse([], "none", [("x", 0.9), ("y", 0.5), ("z", 0.7)]) == ["x", "z", "y"]


def test_pinned_come_first_once() -> None:
    ranking = fuse(["a", "b"], "all", [("b", 0.9), ("p", 0.8)], pinned=["p", "p"])
    assert ranking[0] == "p"
    assert ranking.count("p") == 1


def test_a_strong_semantic_match_beats_weak_any_word_hits() -> None:
    keyword = [f"k{i}" for i in range(20)]
    semantic = [("target", 0.80)] + [(f"s{i}", 0.30 - i / 100) for i in range(20)]
    assert fuse(keyword, "any", semantic)[0] == "target"


def test_all_word_matches_stay_on_the_first_page() -> None:
    keyword = [f"k{i}" for i in range(12)]
    semantic = [(f"s{i}", 0.9 - i / 100) for i in range(30)]  # strong, entirely different papers
    ranking = fuse(keyword, "all", semantic, page_size=5)
    assert set(ranking[:5]) == {"k0", "k1", "k2", "k3", "k4"}
    ranking = fuse(keyword[:2], "all", semantic, page_size=5)
    assert {"k0", "k1"} <= set(ranking[:5])


def test_pinned_take_first_page_places_from_protected_ones_last() -> None:
    ranking = fuse(["k0", "k1", "k2"], "all", [], pinned=["p"], page_size=3)
    assert ranking == ["p", "k0", "k1", "k2"]


def test_ties_are_broken_by_id_so_results_are_stable() -> None:
    assert fuse([], "none", [("b", 0.5), ("a", 0.5)]) == ["a", "b"]


def test_depth_bounds_the_candidates() -> None:
    semantic = [(f"s{i:03}", 1 - i / 1000) for i in range(200)]
    assert len(fuse([], "none", semantic, weights=FusionWeights(depth=20))) == 20


def test_rrf() -> None:
    assert reciprocal_rank_fusion([["a", "b"], ["b", "c"]]) == ["b", "a", "c"]
    assert reciprocal_rank_fusion([["a", "b"], ["b", "a"]], weights=[2.0, 1.0])[0] == "a"


ids = st.lists(st.sampled_from([f"p{i}" for i in range(30)]), max_size=25)


@given(ids, st.sampled_from(["all", "any", "none"]), ids, ids, st.integers(1, 10))
def test_properties(keyword: list[str], matched: str, semantic_ids: list[str], pinned: list[str], page: int) -> None:
    semantic = [(paper_id, 1.0 - rank / 50) for rank, paper_id in enumerate(dict.fromkeys(semantic_ids))]
    ranking = fuse(keyword, matched, semantic, pinned=pinned, page_size=page)  # type: ignore[arg-type]
    assert len(ranking) == len(set(ranking))  # each paper once
    assert set(ranking) == set(keyword) | set(semantic_ids) | set(pinned)  # nothing invented, nothing lost
    unique_pinned = list(dict.fromkeys(pinned))
    assert ranking[: len(unique_pinned)] == unique_pinned
    if matched == "all":
        room = max(0, page - len(unique_pinned))
        protected = [i for i in dict.fromkeys(keyword) if i not in unique_pinned][:room]
        assert set(protected) <= set(ranking[:page])
