"""`paperbot db copy --to URL_OR_PATH`: copy one catalogue into another, across backends, idempotently.

Everything goes through the `Catalogue` protocol, so any backend copies into any other (SQLite → PostgreSQL
to scale out, PostgreSQL → SQLite for a local copy or a backup). The target's own change log records what
the copy changed, so the target's search views catch up by themselves.

Re-running copies only what changed: the target keeps a marker per source catalogue (its identity → the
source's change-log position the last copy reached). The next run reads only the source's log entries after
it — unless the source pruned past it, when it compares every paper again (writing only those that differ).
Day lists, the fetch record, digest state (subscriptions with every setting, channel state, post records with
their threads and parts, and the posts' settled-upvotes edits — so a moved bot never posts or edits a day's
digest twice) and members' follows are small and compared whole each time; equal rows are never rewritten, so a
second copy with nothing new changes nothing.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.catalogue.protocols import Catalogue
from bot.errors import CatalogueError

__all__ = ["CopyProgress", "CopyReport", "copy_catalogue"]

BATCH = 2_000
_ALL_DAYS = (dt.date(1990, 1, 1), dt.date(9999, 12, 31))

# Receives (what, done, total) as the copy advances; total is 0 when unknown.
CopyProgress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What a copy read and changed."""

    papers_read: int
    papers_changed: int
    days_read: int
    days_changed: int
    subscriptions: int
    posts: int
    edits: int
    follows: int
    incremental: bool
    seconds: float

    def __str__(self) -> str:
        """One line for the CLI."""
        how = "changes since the last copy" if self.incremental else "every paper"
        return (
            f"copied {how}: {self.papers_read:,} papers read, {self.papers_changed:,} changed; "
            f"{self.days_read:,} days read, {self.days_changed:,} changed; "
            f"{self.subscriptions:,} digest subscriptions, {self.posts:,} post records, {self.edits:,} post edits, "
            f"{self.follows:,} follows added; {self.seconds:.1f} s"
        )


def _mark_name(source: Catalogue) -> str:
    return f"copied-from:{source.identity}"


async def copy_catalogue(source: Catalogue, target: Catalogue, *, progress: CopyProgress | None = None) -> CopyReport:
    """Copy `source` into `target` (see the module docstring); raise CatalogueError if they are one."""
    if source.identity == target.identity:
        raise CatalogueError(f"{target.location} is the catalogue being copied; choose another target")
    started = time.perf_counter()
    report = progress or (lambda what, done, total: None)
    position = await source.log_position()  # read first: whatever changes during the copy is copied next time
    mark = await target.marker(_mark_name(source))
    since = int(mark) if mark is not None and mark.isdigit() else None
    incremental = since is not None and position.pruned_through <= since <= position.last_seq
    papers_read = papers_changed = 0
    if incremental:
        assert since is not None
        cursor = since
        while not (batch := await source.changes_after(cursor, limit=BATCH)).empty:
            papers_read += len(batch.papers)
            papers_changed += await target.restore_papers(batch.papers)
            cursor = batch.last_seq
            report("papers", papers_read, 0)
    else:
        total = await source.count_papers()
        async for papers in source.stream_papers(batch_size=BATCH):
            papers_read += len(papers)
            papers_changed += await target.restore_papers(papers)
            report("papers", papers_read, total)
    days_read, days_changed = await _copy_days(source, target, report)
    subscriptions = await _copy_subscriptions(source, target)
    posts, edits = await _copy_digest_state(source, target)
    follows = await target.follows.restore_follows(await source.follows.followers(), now=dt.datetime.now(dt.UTC))
    await target.set_marker(_mark_name(source), str(position.last_seq))
    return CopyReport(
        papers_read=papers_read,
        papers_changed=papers_changed,
        days_read=days_read,
        days_changed=days_changed,
        subscriptions=subscriptions,
        posts=posts,
        edits=edits,
        follows=follows,
        incremental=incremental,
        seconds=time.perf_counter() - started,
    )


async def _copy_days(source: Catalogue, target: Catalogue, report: CopyProgress) -> tuple[int, int]:
    """Every fetched day with its list; a day the target already has as fetched then is skipped."""
    fetched = await source.fetched_days(*_ALL_DAYS)
    have = await target.fetched_days(*_ALL_DAYS)
    changed = 0
    for done, day in enumerate(sorted(fetched), start=1):
        entries = await source.day_entries(day)
        if have.get(day) != fetched[day] or [(e.paper.id, e.upvotes) for e in await target.day_entries(day)] != [
            (e.paper.id, e.upvotes) for e in entries
        ]:
            await target.record_day(day, entries, fetched_at=fetched[day])
            changed += 1
        report("days", done, len(fetched))
    return len(fetched), changed


async def _copy_digest_state(source: Catalogue, target: Catalogue) -> tuple[int, int]:
    """Every channel's digest state, every post record and every post's edit (so no post is made or edited twice
    after moving); return how many post records and edits were read. Posts go first: an edit belongs to one."""
    for state in (await source.digests.channel_states()).values():
        await target.digests.restore_channel_state(state)
    posts = await source.digests.all_posts()
    for record in posts:
        await target.digests.restore_post(record)
    edits = await source.digests.all_edits()
    for edit in edits:
        await target.digests.restore_edit(edit)
    return len(posts), len(edits)


async def _copy_subscriptions(source: Catalogue, target: Catalogue) -> int:
    """The digest subscriptions made with slash commands, each owed posts from its original creation."""
    subscriptions = await source.digests.subscriptions()
    for sub in subscriptions:
        if sub.created_at is not None:
            await target.digests.subscribe(sub, now=sub.created_at)
    return len(subscriptions)
