"""Bulk writes for the arXiv snapshot import: many papers per transaction through one `executemany`.

`Catalogue.upsert_papers` awaits one statement per paper, which costs a thread hop each; at millions of
papers that hop dominates. Here a whole batch is bound and stepped inside SQLite's own loop (one call into
the connection's thread), in one write transaction taken through the catalogue's writer lock, so slash-command
readers keep answering meanwhile (WAL).

It reuses the catalogue's own upsert statement, so the merge rules stay in one place: arXiv is authoritative
for what it carries (title, abstract, authors, categories, first-version date), and every field it does not
carry (upvotes, GitHub, AI summary/keywords, organization, …) is None here and therefore kept by the
upsert's COALESCE. Unchanged rows are not rewritten (the upsert's WHERE), so a re-run changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.catalogue.store import _UPSERT, _paper_params
from bot.models import Paper

if TYPE_CHECKING:
    from bot.catalogue.store import Catalogue

__all__ = ["import_arxiv_batch"]


async def import_arxiv_batch(
    catalogue: Catalogue, papers: Sequence[Paper], *, seen_at: dt.datetime | None = None
) -> int:
    """Upsert `papers` (from arXiv) in one transaction; return how many rows changed."""
    if not papers:
        return 0
    seen = (seen_at or dt.datetime.now(dt.UTC)).isoformat()
    params = [_paper_params(paper, seen) for paper in papers]
    async with catalogue._transaction() as db:
        cursor = await db.executemany(_UPSERT, params)
        return max(cursor.rowcount, 0)
