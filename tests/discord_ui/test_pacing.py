"""The message pacer: start times 1/rate apart in the order asked, a cap on messages in flight, a live rate.

A virtual clock stands in for time (its `sleep` advances it), so the spacing is checked exactly, not timed.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.discord_ui.pacing import MESSAGES_PER_SECOND, MessagePacer


class VirtualClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds  # time passes at once: each sender's turn comes exactly when it was due


async def test_a_burst_of_senders_starts_one_per_interval_in_the_order_they_asked() -> None:
    clock = VirtualClock()
    pacer = MessagePacer(clock=clock, sleep=clock.sleep)
    started: list[tuple[int, float]] = []

    async def send(n: int) -> None:
        async with pacer.turn():
            started.append((n, clock.now))

    await asyncio.gather(*(send(n) for n in range(200)))
    assert [n for n, _ in started] == list(range(200))
    gaps = [b - a for (_, a), (_, b) in itertools.pairwise(started)]
    assert min(gaps) == pytest.approx(1 / MESSAGES_PER_SECOND)
    # 200 messages at 40/s: the last starts 199/40 s after the first, never sooner (no catch-up bursts).
    assert started[-1][1] - started[0][1] == pytest.approx(199 / MESSAGES_PER_SECOND)


async def test_a_quiet_pacer_sends_at_once() -> None:
    clock = VirtualClock()
    pacer = MessagePacer(clock=clock, sleep=clock.sleep)
    async with pacer.turn():
        pass
    clock.now += 10.0  # long after the last message: no debt carried over
    async with pacer.turn():
        assert clock.now == 10.0


async def test_at_most_in_flight_messages_are_being_sent_at_once() -> None:
    clock = VirtualClock()
    pacer = MessagePacer(in_flight=3, clock=clock, sleep=clock.sleep)
    release = asyncio.Event()
    full = asyncio.Event()
    inside = 0
    most = 0

    async def send() -> None:
        nonlocal inside, most
        async with pacer.turn():
            inside += 1
            most = max(most, inside)
            if inside == 3:
                full.set()
            await release.wait()  # Discord is slow to answer
            inside -= 1

    tasks = [asyncio.create_task(send()) for _ in range(10)]
    await full.wait()
    for _ in range(20):  # give the others every chance to get in
        await asyncio.sleep(0)
    assert inside == 3
    release.set()
    await asyncio.gather(*tasks)
    assert most == 3 and inside == 0


async def test_the_rate_is_read_at_every_turn() -> None:
    clock = VirtualClock()
    share = [1.0]
    pacer = MessagePacer(lambda: MESSAGES_PER_SECOND * share[0], clock=clock, sleep=clock.sleep)
    share[0] = 0.5  # this process learned it runs half the shards: half the token's budget
    starts = []
    for _ in range(3):
        async with pacer.turn():
            starts.append(clock.now)
    assert starts[2] - starts[1] == pytest.approx(2 / MESSAGES_PER_SECOND)


def test_in_flight_must_allow_a_message() -> None:
    with pytest.raises(ValueError, match="in_flight"):
        MessagePacer(in_flight=0)
