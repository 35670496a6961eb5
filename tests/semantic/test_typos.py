"""One-typo correction: candidates at Damerau distance 1, known words untouched, the most frequent fix wins."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.search.typos import Correction, correct_query, correct_word, known_words, one_edit_candidates

VOCAB = {"model": 100, "models": 50, "diffusion": 30, "matter": 5, "stirling": 1, "grokked": 1, "from": 500}


def df(word: str) -> int:
    return VOCAB.get(word, 0)


def test_each_kind_of_slip_is_corrected() -> None:
    assert correct_word("difusion", df) == "diffusion"  # dropped letter
    assert correct_word("diffussion", df) == "diffusion"  # doubled letter
    assert correct_word("diffsuion", df) == "diffusion"  # swapped neighbours
    assert correct_word("diffysion", df) == "diffusion"  # wrong key
    assert correct_word("Stilring", df) == "stirling"  # case ignored


def test_known_words_are_never_changed() -> None:
    assert correct_word("grokked", df) is None  # rare but real
    assert correct_word("models", df) is None  # not "corrected" to the more frequent "model"


def test_short_words_and_numbers_are_left_alone() -> None:
    assert correct_word("modl"[:3], df) is None
    assert correct_word("20244", df) is None


def test_a_pasted_run_longer_than_any_word_is_not_corrected() -> None:
    asked: list[str] = []

    def counting_df(word: str) -> int:
        asked.append(word)
        return df(word)

    # 6,000 letters would have ~430,000 candidates of 6,000 letters each (gigabytes): none is built.
    assert correct_word("x" * 6000, counting_df) is None and asked == []
    assert correct_query("diffsuion " + "y" * 41, df) == Correction(
        "diffusion " + "y" * 41, (("diffsuion", "diffusion"),)
    )
    assert correct_word("a" * 39 + "b", lambda w: 1 if w == "a" * 40 else 0) == "a" * 40  # 40 letters: corrected


def test_most_frequent_candidate_wins() -> None:
    # "modela" is one edit from "model" (drop the a) and from "models" (a → s): the more frequent wins.
    assert correct_word("modela", lambda w: {"model": 100, "models": 50}.get(w, 0)) == "model"
    assert correct_word("modela", lambda w: {"model": 5, "models": 50}.get(w, 0)) == "models"
    # Equal frequencies: the alphabetically first, so the answer never flips between runs.
    assert correct_word("modela", lambda w: {"model": 7, "models": 7}.get(w, 0)) == "model"


def test_nothing_close_gives_none() -> None:
    assert correct_word("xyzzyq", df) is None


def test_query_keeps_everything_else_as_typed() -> None:
    result = correct_query('Difusion modle "for" dark matyer, ti:x', df)
    assert result == Correction(
        text='diffusion model "for" dark matter, ti:x',
        changes=(("Difusion", "diffusion"), ("modle", "model"), ("matyer", "matter")),
    )


def test_query_without_typos_gives_none() -> None:
    assert correct_query("diffusion model", df) is None
    assert correct_query("", df) is None


def test_max_words_bounds_the_work() -> None:
    calls: list[str] = []

    def counting(word: str) -> int:
        calls.append(word)
        return df(word)

    correct_query(" ".join(["zzzzqq"] * 50), counting, max_words=2)
    assert len(calls) < 3 * 700


def test_known_words() -> None:
    assert known_words(["Model", "modle"], df) == [True, False]


def test_candidates_are_distance_one() -> None:
    candidates = one_edit_candidates("abc")
    assert {"ab", "bc", "ac", "bac", "acb", "abcd", "xabc", "abx"} <= candidates
    assert "abc" not in candidates and "cba" not in candidates


@given(st.from_regex(r"[a-z]{4,10}", fullmatch=True), st.data())
def test_any_single_edit_of_a_known_word_comes_back(word: str, data: st.DataObject) -> None:
    typo = data.draw(st.sampled_from(sorted(one_edit_candidates(word))))
    vocabulary = {word: 10}
    if len(typo) >= 4 and not typo.isdigit():
        assert correct_word(typo, lambda w: vocabulary.get(w, 0)) == word
