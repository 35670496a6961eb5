"""arXiv id and URL normalisation: examples for every accepted form, and properties over generated ids."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.sources.ids import is_old_style, parse_paper_ref, split_version


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2401.12345", "2401.12345"),
        ("2401.12345v2", "2401.12345"),
        ("  2401.12345v12 \n", "2401.12345"),
        ("arXiv:2401.12345", "2401.12345"),
        ("arxiv: 2401.12345v3", "2401.12345"),
        ("ARXIV:2401.12345", "2401.12345"),
        ("0704.0001", "0704.0001"),
        ("1412.9999", "1412.9999"),
        ("1501.00001", "1501.00001"),
        ("2609.36435", "2609.36435"),
        ("hep-th/9901001", "hep-th/9901001"),
        ("hep-th/9901001v3", "hep-th/9901001"),
        ("math.GT/0309136", "math/0309136"),
        ("cs.AI/0101001v1", "cs/0101001"),
        ("cond-mat/0603029v1", "cond-mat/0603029"),
        ("arXiv:quant-ph/0201082v1", "quant-ph/0201082"),
        ("https://arxiv.org/abs/2401.12345", "2401.12345"),
        ("https://arxiv.org/abs/2401.12345v2", "2401.12345"),
        ("http://arxiv.org/abs/2401.12345/", "2401.12345"),
        ("https://www.arxiv.org/abs/2401.12345", "2401.12345"),
        ("https://export.arxiv.org/abs/2401.12345v1", "2401.12345"),
        ("https://arxiv.org/pdf/2401.12345", "2401.12345"),
        ("https://arxiv.org/pdf/2401.12345v2", "2401.12345"),
        ("https://arxiv.org/pdf/2401.12345v2.pdf", "2401.12345"),
        ("https://arxiv.org/pdf/2401.12345.pdf", "2401.12345"),
        ("arxiv.org/abs/2401.12345", "2401.12345"),
        ("https://arxiv.org/abs/hep-th/9901001v3", "hep-th/9901001"),
        ("https://arxiv.org/pdf/hep-th/9901001v3.pdf", "hep-th/9901001"),
        ("https://arxiv.org/abs/math.GT/0309136", "math/0309136"),
        ("https://arxiv.org/abs/2401.12345?context=cs#section", "2401.12345"),
        ("https://arxiv.org/html/2401.12345v1", "2401.12345"),
        ("https://huggingface.co/papers/2401.12345", "2401.12345"),
        ("https://huggingface.co/papers/2401.12345?utm_source=x#community", "2401.12345"),
        ("http://www.huggingface.co/papers/2401.12345/", "2401.12345"),
        ("huggingface.co/papers/2401.12345", "2401.12345"),
        ("https://hf.co/papers/2401.12345", "2401.12345"),
        ("<https://huggingface.co/papers/2401.12345>", "2401.12345"),
        ("(2401.12345)", "2401.12345"),
    ],
)
def test_accepted_forms(text: str, expected: str) -> None:
    assert parse_paper_ref(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "Chronos: Learning the Language of Time Series",
        "video generation",
        "2401.1234",  # 2024 ids have five digits
        "1412.12345",  # 2014 ids have four
        "0808.05394",  # arXiv answers 200 with no entries, but 2008 ids have four digits
        "0703.1234",  # before the new scheme began
        "2413.12345",  # month 13
        "2400.12345",  # month 00
        "1234.5678",
        "2401.12345v",
        "2401.12345.",
        "3.14159",
        "hep-th/990100",  # six digits
        "hep-th/9913001",  # month 13
        "https://example.com/abs/2401.12345",
        "https://arxiv.org/list/cs.AI/recent",
        "https://huggingface.co/2401.12345",
        "https://huggingface.co/papers/",
        "https://huggingface.co/papers/not-an-id",
        "ftp://arxiv.org/abs/2401.12345",
        "2401.12345 and 2402.00001",
    ],
)
def test_rejected_forms(text: str) -> None:
    assert parse_paper_ref(text) is None


def test_split_version() -> None:
    assert split_version("2401.12345v2") == ("2401.12345", 2)
    assert split_version("2401.12345") == ("2401.12345", None)
    assert split_version("hep-th/9901001v3") == ("hep-th/9901001", 3)
    assert split_version("hep-th/9901001") == ("hep-th/9901001", None)


def test_is_old_style() -> None:
    assert is_old_style("hep-th/9901001")
    assert not is_old_style("2401.12345")


# ------------------------------------------------------------------------------------------ properties


@st.composite
def new_style_ids(draw: st.DrawFn) -> str:
    yymm = draw(st.integers(min_value=704, max_value=9912).filter(lambda n: 1 <= n % 100 <= 12))
    digits = 5 if yymm >= 1501 else 4
    number = draw(st.integers(min_value=0, max_value=10**digits - 1))
    return f"{yymm:04d}.{number:0{digits}d}"


@st.composite
def old_style_ids(draw: st.DrawFn) -> str:
    archive = draw(st.sampled_from(["hep-th", "hep-ph", "math", "cond-mat", "astro-ph", "quant-ph", "cs", "gr-qc"]))
    year = draw(st.integers(min_value=0, max_value=99))
    month = draw(st.integers(min_value=1, max_value=12))
    number = draw(st.integers(min_value=0, max_value=999))
    return f"{archive}/{year:02d}{month:02d}{number:03d}"


any_ids = st.one_of(new_style_ids(), old_style_ids())
versions = st.one_of(st.none(), st.integers(min_value=1, max_value=99))


def _with_version(base: str, version: int | None) -> str:
    return base if version is None else f"{base}v{version}"


@given(base=any_ids, version=versions, scheme=st.sampled_from(["http", "https"]))
def test_every_form_of_an_id_gives_the_base(base: str, version: int | None, scheme: str) -> None:
    vid = _with_version(base, version)
    forms = [
        vid,
        f"  {vid}\t",
        f"arXiv:{vid}",
        f"{scheme}://arxiv.org/abs/{vid}",
        f"{scheme}://www.arxiv.org/abs/{vid}",
        f"{scheme}://export.arxiv.org/abs/{vid}",
        f"{scheme}://arxiv.org/pdf/{vid}",
        f"{scheme}://arxiv.org/pdf/{vid}.pdf",
    ]
    if not is_old_style(base):
        forms += [f"{scheme}://huggingface.co/papers/{vid}", f"{scheme}://huggingface.co/papers/{base}?q=1#x"]
    for form in forms:
        assert parse_paper_ref(form) == base, form


@given(base=any_ids, version=versions)
def test_split_version_round_trips(base: str, version: int | None) -> None:
    assert split_version(_with_version(base, version)) == (base, version)


@given(st.text(max_size=200))
def test_never_raises_and_is_idempotent(text: str) -> None:
    result = parse_paper_ref(text)
    if result is not None:
        assert parse_paper_ref(result) == result
        assert split_version(result)[1] is None


@given(st.text(alphabet=st.characters(categories=["L", "Zs"]), min_size=1, max_size=80))
def test_plain_words_are_never_ids(text: str) -> None:
    assert parse_paper_ref(text) is None
