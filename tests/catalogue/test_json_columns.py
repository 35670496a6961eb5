"""SQLite's JSON list columns keep exactly the text they always had (the upserts compare it to find changes)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from bot.catalogue.sqlite._rows import json_list

_TRICKY = st.text(alphabet=st.sampled_from(['"', ",", "\\", " ", "a", "é", "\n", "\x00", "\ud800", "名"]), max_size=6)


@given(st.lists(st.one_of(_TRICKY, st.text(max_size=12)), max_size=6))
def test_json_list_is_the_standard_librarys_text(items: list[str]) -> None:
    expected = json.dumps(items, ensure_ascii=False) if items else None
    assert json_list(items) == expected
    assert json_list(tuple(items)) == expected
