"""FollowService against a real catalogue, the real scheduler, a hand-moved clock and a recording DM sink: one DM
per member per day with exactly the new matching papers, pauses on closed DMs, bounded retries, catch-up after
downtime, and exactly once across two processes and across a crash."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.catalogue import FOLLOW_LIMIT, Catalogue
from bot.digest.schedule import Scheduler
from bot.errors import UserInputError
from bot.follows.service import LEASE, MAX_ATTEMPTS, FollowService
from tests.digest.conftest import Clock, Crash
from tests.follows.conftest import RecordingSink, at, list_papers, make_settings, paper, running, step_to

ANN, BO, CY = 1001, 1002, 1003
D23, D24, D25, D26 = (dt.date(2026, 11, d) for d in (23, 24, 25, 26))


def ids(dm: object) -> list[str]:
    return [fp.paper.id for fp in dm.papers]  # type: ignore[attr-defined]


async def follow(service: FollowService, user_id: int, keywords: str | None = None, author: str | None = None) -> None:
    added = await service.follow(user_id, guild_id=77, keywords=keywords, author=author)
    assert added.status in ("added", "exists")


async def test_one_dm_per_member_per_day_with_what_entered_since_their_last(catalogue: Catalogue) -> None:
    clock = Clock(at(2026, 11, 24, 6))
    sink = RecordingSink(clock)
    # Listed before anyone followed: never in a DM.
    await list_papers(
        catalogue, D23, [paper(1, "Diffusion models"), paper(2, "By Jane", authors=("Jane Smith",))], at=clock()
    )
    async with running(catalogue, sink, clock) as service:
        await follow(service, ANN, keywords="diffusion")
        await follow(service, BO, author="J. Smith")
        await follow(service, CY, keywords="quantum")
        clock.set(at(2026, 11, 24, 7))
        # A late addition to yesterday's list, and today's first papers.
        await list_papers(catalogue, D23, [paper(3, "Diffusion transformers", upvotes=5)], at=clock())
        await list_papers(
            catalogue,
            D24,
            [
                paper(4, "Graph nets", authors=("Jane Smith", "Bo Li"), upvotes=30),
                paper(5, "Latent diffusion", upvotes=50),
                paper(6, "Nothing to see"),
            ],
            at=clock(),
        )
        await step_to(clock, service.scheduler, at(2026, 11, 24, 12))
        assert [(dm.dm_date, ids(dm)) for dm in sink.dms(ANN)] == [(D24, ["2611.00005", "2611.00003"])]  # best first
        assert [(dm.dm_date, ids(dm)) for dm in sink.dms(BO)] == [(D24, ["2611.00004"])]
        assert sink.dms(CY) == []  # nothing matched: no DM
        [first] = sink.dms(ANN)
        assert first.previous_dm_at is None and first.papers[0].hits[0].labels == ("keyword “diffusion”",)
        assert [a.at for a in sink.tries(ANN)] == [at(2026, 11, 24, 8)]

        # After the DM time: listed today, DMed tomorrow — the catch-ups of today send nothing more.
        await list_papers(catalogue, D24, [paper(7, "Diffusion again", upvotes=1)], at=clock())
        await step_to(clock, service.scheduler, at(2026, 11, 26, 12))
    assert [(dm.dm_date, ids(dm)) for dm in sink.dms(ANN)] == [
        (D24, ["2611.00005", "2611.00003"]),
        (D25, ["2611.00007"]),
    ]
    assert sink.dms(ANN)[1].previous_dm_at == at(2026, 11, 24, 8)
    assert len(sink.dms(BO)) == 1 and sink.dms(CY) == []  # nothing new on the 25th and 26th: no DM
    for user in (ANN, BO, CY):
        assert (await catalogue.follows.follower(user)).position == await catalogue.follows.list_position()  # type: ignore[union-attr]


async def test_closed_dms_pause_without_retries_and_following_again_resumes(catalogue: Catalogue) -> None:
    clock = Clock(at(2026, 11, 24, 6))
    sink = RecordingSink(clock, closed={ANN})
    async with running(catalogue, sink, clock) as service:
        await follow(service, ANN, keywords="diffusion")
        await list_papers(catalogue, D24, [paper(1, "Diffusion one")], at=at(2026, 11, 24, 7))
        await step_to(clock, service.scheduler, at(2026, 11, 25, 12))
        assert len(sink.tries(ANN)) == 1  # one refusal, no retry storm, nothing the next day
        shown = await service.following(ANN)
        assert shown is not None and shown.paused
        assert shown.paused_reason == "Discord refused: the member does not accept DMs (50007)"
        assert shown.paused_at == at(2026, 11, 24, 8)

        await list_papers(catalogue, D25, [paper(2, "Diffusion while paused")], at=clock())
        sink.closed.clear()  # they opened their DMs, then follow again (the same terms)
        await follow(service, ANN, keywords="Diffusion")
        assert not (await service.following(ANN)).paused  # type: ignore[union-attr]
        clock.set(at(2026, 11, 25, 13))
        await list_papers(catalogue, D25, [paper(3, "Diffusion after resuming")], at=clock())
        await step_to(clock, service.scheduler, at(2026, 11, 26, 12))
    assert [(dm.dm_date, ids(dm)) for dm in sink.dms(ANN)] == [(D26, ["2611.00003"])]


async def test_transient_failures_are_retried_later_that_day_a_bounded_number_of_times(catalogue: Catalogue) -> None:
    clock = Clock(at(2026, 11, 24, 6))
    sink = RecordingSink(clock, transient={ANN: 2, BO: 1000})
    async with running(catalogue, sink, clock) as service:
        await follow(service, ANN, keywords="diffusion")
        await follow(service, BO, keywords="diffusion")
        await list_papers(catalogue, D24, [paper(1, "Diffusion one")], at=at(2026, 11, 24, 7))
        await step_to(clock, service.scheduler, at(2026, 11, 24, 23, 59))
        assert [a.at for a in sink.tries(ANN)] == [
            at(2026, 11, 24, 8),
            at(2026, 11, 24, 8, 10),
            at(2026, 11, 24, 8, 30),
        ]
        assert [dm.dm_date for dm in sink.dms(ANN)] == [D24]
        # Backing off 10, 20, 40, 80 minutes, then given up for the day.
        assert [a.at.time() for a in sink.tries(BO)] == [
            dt.time(8),
            dt.time(8, 10),
            dt.time(8, 30),
            dt.time(9, 10),
            dt.time(10, 30),
        ]
        assert len(sink.tries(BO)) == MAX_ATTEMPTS
        record = await catalogue.follows.dm(BO, D24)
        assert record is not None and record.state == "failed" and record.error == "Discord answered 503"
        assert not (await service.following(BO)).paused  # type: ignore[union-attr]

        sink.transient[BO] = 0  # Discord is back: nothing was lost, the papers come in the next DM
        await list_papers(catalogue, D25, [paper(2, "Diffusion two")], at=at(2026, 11, 25, 7))
        await step_to(clock, service.scheduler, at(2026, 11, 25, 12))
    assert [(dm.dm_date, sorted(ids(dm))) for dm in sink.dms(BO)] == [(D25, ["2611.00001", "2611.00002"])]
    assert [(dm.dm_date, ids(dm)) for dm in sink.dms(ANN)] == [(D24, ["2611.00001"]), (D25, ["2611.00002"])]


async def test_an_unexpected_sink_error_is_logged_and_retried_like_a_transient_one(
    catalogue: Catalogue, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(at(2026, 11, 24, 6))
    sink = RecordingSink(clock, broken={ANN: 1})
    async with running(catalogue, sink, clock) as service:
        await follow(service, ANN, keywords="diffusion")
        await follow(service, BO, keywords="diffusion")
        await list_papers(catalogue, D24, [paper(1, "Diffusion one")], at=at(2026, 11, 24, 7))
        await step_to(clock, service.scheduler, at(2026, 11, 24, 12))
    assert [a.at for a in sink.tries(ANN)] == [at(2026, 11, 24, 8), at(2026, 11, 24, 8, 10)]
    assert len(sink.dms(ANN)) == 1 and len(sink.dms(BO)) == 1  # the others were not held up
    assert "a bug in the sink" in caplog.text


async def test_two_processes_on_one_catalogue_send_one_dm(two_catalogues: tuple[Catalogue, Catalogue]) -> None:
    first, second = two_catalogues
    clock = Clock(at(2026, 11, 24, 6))
    sink = RecordingSink(clock)  # one Discord for both processes
    settings = make_settings()
    a = FollowService(first, sink, Scheduler(now=clock), settings, owner="process-a")
    b = FollowService(second, sink, Scheduler(now=clock), settings, owner="process-b")
    members = list(range(2001, 2021))
    for member in members:
        await follow(a if member % 2 else b, member, keywords="diffusion")
    await list_papers(first, D24, [paper(1, "Diffusion one"), paper(2, "Diffusion two")], at=at(2026, 11, 24, 7))
    clock.set(at(2026, 11, 24, 8))
    # Process A is sending its first DM when process B runs the whole day's DMs; then both keep running.
    sink.hold = asyncio.Event()
    a_run = asyncio.create_task(a.run_due())
    await sink.holding.wait()
    await b.run_due()
    sink.hold.set()
    await a_run
    for minute in (0, 10, 20):
        clock.set(at(2026, 11, 24, 8, minute))
        await asyncio.gather(a.run_due(), b.run_due(), b.run_due())
    for member in members:
        assert [(dm.dm_date, sorted(ids(dm))) for dm in sink.dms(member)] == [(D24, ["2611.00001", "2611.00002"])]
    assert len(sink.attempts) == len(members)
    owners = {(await first.follows.dm(m, D24)).owner for m in members}  # type: ignore[union-attr]
    assert owners <= {"process-a", "process-b"}


@pytest.mark.parametrize("moment", ["before sending", "after sending, before recording it"])
async def test_a_restart_mid_run_sends_no_duplicate_and_misses_no_dm(catalogue: Catalogue, moment: str) -> None:
    clock = Clock(at(2026, 11, 24, 6))
    sink = RecordingSink(clock)
    settings = make_settings()
    dying = FollowService(catalogue, sink, Scheduler(now=clock), settings, owner="dying")
    await follow(dying, ANN, keywords="diffusion")
    await list_papers(catalogue, D24, [paper(1, "Diffusion one")], at=at(2026, 11, 24, 7))
    clock.set(at(2026, 11, 24, 8))
    if moment == "before sending":
        sink.crash_before_send = True
    else:
        sink.crash_after_send = True
    with pytest.raises(Crash):
        await dying.run_due()
    sink.crash_before_send = sink.crash_after_send = False
    assert (await catalogue.follows.dm(ANN, D24)).state == "sending"  # type: ignore[union-attr]

    clock.set(at(2026, 11, 24, 8, 1))  # restarted at once: the dead process's lease still runs
    async with running(catalogue, sink, clock, settings) as service:
        assert len(sink.dms(ANN)) == (0 if moment == "before sending" else 1)
        await step_to(clock, service.scheduler, at(2026, 11, 25, 7))
    assert [(dm.dm_date, ids(dm)) for dm in sink.dms(ANN)] == [(D24, ["2611.00001"])]
    record = await catalogue.follows.dm(ANN, D24)
    assert record is not None and record.state == "sent" and record.owner != "dying"
    assert record.finished_at is not None and record.finished_at >= at(2026, 11, 24, 8) + LEASE


async def test_down_at_dm_time_sends_later_that_day_once(catalogue: Catalogue) -> None:
    clock = Clock(at(2026, 11, 24, 6))
    sink = RecordingSink(clock)
    async with running(catalogue, sink, clock) as service:
        await follow(service, ANN, keywords="diffusion")
    await list_papers(catalogue, D24, [paper(1, "Diffusion one")], at=at(2026, 11, 24, 7))
    clock.set(at(2026, 11, 24, 15, 3))  # the bot was down at 08:00
    async with running(catalogue, sink, clock) as service:
        assert [a.at for a in sink.tries(ANN)] == [at(2026, 11, 24, 15, 3)]
        await step_to(clock, service.scheduler, at(2026, 11, 24, 23, 59))
    async with running(catalogue, sink, clock):  # and a restart the same day sends nothing more
        pass
    assert len(sink.tries(ANN)) == 1


async def test_a_day_missed_entirely_is_not_sent_late_its_papers_come_next(catalogue: Catalogue) -> None:
    clock = Clock(at(2026, 11, 24, 6))
    sink = RecordingSink(clock)
    async with running(catalogue, sink, clock) as service:
        await follow(service, ANN, keywords="diffusion")
    await list_papers(catalogue, D24, [paper(1, "Diffusion one")], at=at(2026, 11, 24, 7))
    await list_papers(catalogue, D25, [paper(2, "Diffusion two")], at=at(2026, 11, 25, 5))
    clock.set(at(2026, 11, 25, 7))  # down from before the 24th's DM until before the 25th's
    async with running(catalogue, sink, clock) as service:
        assert sink.attempts == []
        await step_to(clock, service.scheduler, at(2026, 11, 25, 9))
    assert [(dm.dm_date, sorted(ids(dm))) for dm in sink.dms(ANN)] == [(D25, ["2611.00001", "2611.00002"])]


async def test_a_follow_made_after_the_dm_time_starts_with_tomorrows_dm(catalogue: Catalogue) -> None:
    clock = Clock(at(2026, 11, 24, 9))
    sink = RecordingSink(clock)
    async with running(catalogue, sink, clock) as service:
        await follow(service, ANN, keywords="diffusion")
        await list_papers(catalogue, D24, [paper(1, "Diffusion one")], at=at(2026, 11, 24, 9, 5))
        await step_to(clock, service.scheduler, at(2026, 11, 25, 12))
    assert [(dm.dm_date, ids(dm)) for dm in sink.dms(ANN)] == [(D25, ["2611.00001"])]


@pytest.mark.parametrize("reached", [True, False])
async def test_a_dm_left_half_made_overnight_is_closed_and_never_doubled(catalogue: Catalogue, reached: bool) -> None:
    clock = Clock(at(2026, 11, 24, 6))
    sink = RecordingSink(clock)
    settings = make_settings(dt.time(23, 57))
    dying = FollowService(catalogue, sink, Scheduler(now=clock), settings, owner="dying")
    await follow(dying, ANN, keywords="diffusion")
    await list_papers(catalogue, D24, [paper(1, "Diffusion one")], at=at(2026, 11, 24, 7))
    clock.set(at(2026, 11, 24, 23, 58))
    sink.crash_after_send = reached
    sink.crash_before_send = not reached
    with pytest.raises(Crash):
        await dying.run_due()
    sink.crash_after_send = sink.crash_before_send = False
    await list_papers(catalogue, D25, [paper(2, "Diffusion two")], at=at(2026, 11, 25, 1))
    clock.set(at(2026, 11, 25, 0, 30))
    async with running(catalogue, sink, clock, settings) as service:
        old = await catalogue.follows.dm(ANN, D24)
        assert old is not None and old.state == ("sent" if reached else "failed")
        await step_to(clock, service.scheduler, at(2026, 11, 25, 23, 59))
    expected = [(D24, ["2611.00001"]), (D25, ["2611.00002"])] if reached else [(D25, ["2611.00001", "2611.00002"])]
    assert [(dm.dm_date, sorted(ids(dm))) for dm in sink.dms(ANN)] == expected


async def test_old_lists_backfilled_today_never_reach_a_dm(catalogue: Catalogue) -> None:
    clock = Clock(at(2026, 11, 24, 6))
    sink = RecordingSink(clock)
    async with running(catalogue, sink, clock) as service:
        await follow(service, ANN, keywords="diffusion")
        await list_papers(catalogue, dt.date(2026, 10, 1), [paper(1, "Diffusion, an old list")], at=clock())
        await list_papers(catalogue, D23, [paper(2, "Diffusion, yesterday")], at=clock())
        await step_to(clock, service.scheduler, at(2026, 11, 24, 9))
    assert [ids(dm) for dm in sink.dms(ANN)] == [["2611.00002"]]


async def test_the_commands_touch_only_the_members_own_follows(catalogue: Catalogue) -> None:
    clock = Clock(at(2026, 11, 24, 6))
    service = FollowService(catalogue, RecordingSink(clock), Scheduler(now=clock), make_settings())
    await follow(service, ANN, keywords="diffusion, robots")
    await follow(service, ANN, author="Jane Smith")
    await follow(service, BO, keywords="graphs")
    assert await service.choices(ANN, "") == [
        ((await service.following(ANN)).follows[0].follow_id, "keywords “diffusion”, “robots”"),  # type: ignore[union-attr]
        ((await service.following(ANN)).follows[1].follow_id, "author “Jane Smith”"),  # type: ignore[union-attr]
    ]
    [(smith, _)] = await service.choices(ANN, "smith")
    [(bos, _)] = await service.choices(BO, "")
    assert not await service.unfollow(ANN, bos)  # Bo's follow is not Ann's to remove
    assert await service.unfollow(ANN, smith) and not await service.unfollow(ANN, smith)
    assert [label for _, label in await service.choices(ANN, "")] == ["keywords “diffusion”, “robots”"]
    assert [label for _, label in await service.choices(BO, "")] == ["keyword “graphs”"]
    assert await service.choices(CY, "") == []
    with pytest.raises(UserInputError):
        await service.follow(CY, guild_id=None)
    assert service.next_dm_time() == at(2026, 11, 24, 8)


async def test_the_cap_is_refused_and_autocomplete_shows_every_follow(catalogue: Catalogue) -> None:
    clock = Clock(at(2026, 11, 24, 6))
    service = FollowService(catalogue, RecordingSink(clock), Scheduler(now=clock), make_settings())
    for i in range(FOLLOW_LIMIT):
        await follow(service, ANN, keywords=f"topic {i}, " + "x" * 95)
    refused = await service.follow(ANN, guild_id=None, keywords="one more")
    assert refused.status == "limit" and refused.follow is None and refused.count == FOLLOW_LIMIT
    choices = await service.choices(ANN, "")
    assert len(choices) == FOLLOW_LIMIT and all(len(label) <= 100 for _, label in choices)
