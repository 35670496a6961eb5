"""The vector store's candidate cut: exactly the `count` smallest sign-code distances, whatever the ties."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from bot.semantic.segments import _nearest

DEAD = np.iinfo(np.uint16).max


@given(
    distances=st.lists(st.one_of(st.integers(0, 384), st.just(int(DEAD))), min_size=1, max_size=400),
    data=st.data(),
)
def test_nearest_takes_the_smallest_distances(distances: list[int], data: st.DataObject) -> None:
    array = np.array(distances, dtype=np.uint16)
    count = data.draw(st.integers(1, len(distances)))
    rows = _nearest(array, count)
    assert len(rows) == count and len(set(rows.tolist())) == count
    assert sorted(array[rows].tolist()) == sorted(distances)[:count]
