"""The paper catalogue, the source of truth: typed protocols, and one factory over two backends.

Upper layers import from here only: `Catalogue` and its parts (`PaperReader`, `DailyLists`, `ChangeLog`,
`DigestStore`, …) to type what they need, and `open_catalogue(settings.database)` to get one. SQLite
(`bot.catalogue.sqlite`) is the embedded default; PostgreSQL (`bot.catalogue.postgres`) lets many
processes on many machines share one catalogue.
"""

from bot.catalogue.factory import is_postgres_url, open_catalogue
from bot.catalogue.follow_types import (
    FOLLOW_LIMIT,
    DmState,
    Follow,
    FollowAdded,
    FollowDMClaim,
    FollowDMRecord,
    Follower,
    ListEntry,
    NewFollow,
    NewFollowDM,
)
from bot.catalogue.protocols import (
    Catalogue,
    ChangeLog,
    DailyLists,
    DigestStore,
    FollowStore,
    PaperReader,
    PaperWriter,
)
from bot.catalogue.titles import normalise_title
from bot.catalogue.types import (
    LIST_SETTLED_AFTER,
    Backend,
    ChangeBatch,
    ChannelState,
    DayChange,
    EditState,
    LogPosition,
    NewPost,
    PostClaim,
    PostEdit,
    PostEditClaim,
    PostRecord,
    PostState,
)

__all__ = [
    "FOLLOW_LIMIT",
    "LIST_SETTLED_AFTER",
    "Backend",
    "Catalogue",
    "ChangeBatch",
    "ChangeLog",
    "ChannelState",
    "DailyLists",
    "DayChange",
    "DigestStore",
    "DmState",
    "EditState",
    "Follow",
    "FollowAdded",
    "FollowDMClaim",
    "FollowDMRecord",
    "FollowStore",
    "Follower",
    "ListEntry",
    "LogPosition",
    "NewFollow",
    "NewFollowDM",
    "NewPost",
    "PaperReader",
    "PaperWriter",
    "PostClaim",
    "PostEdit",
    "PostEditClaim",
    "PostRecord",
    "PostState",
    "is_postgres_url",
    "normalise_title",
    "open_catalogue",
]
