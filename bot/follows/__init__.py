"""Personal follows: a member follows keywords and/or authors and gets one DM a day with the new papers that match.

- `requests`: what a member typed into `/paper follow` → a follow to store (or what to fix);
- `names`: the author-name rule (accents, case, initials, particles, name order);
- `matching`: which papers a member's follows match (the digest's keyword rule, and `names`);
- `sink`: the `FollowSink` protocol the DMs go through, the `FollowDM` it receives, and `DmError`;
- `service`: `FollowService` — the commands' use cases, and the daily DM run, exactly once per member per day.

The follows themselves, the list entries and the DM records live in the catalogue (`Catalogue.follows`).
Nothing here imports Discord or renders a message.
"""

from bot.follows.matching import FollowedPaper, FollowHit, Matcher, match_follow
from bot.follows.names import author_matches, name_key, parse_name
from bot.follows.requests import describe_follow, new_follow
from bot.follows.service import FollowCatalogue, FollowService
from bot.follows.sink import DmError, FollowDM, FollowSink

__all__ = [
    "DmError",
    "FollowCatalogue",
    "FollowDM",
    "FollowHit",
    "FollowService",
    "FollowSink",
    "FollowedPaper",
    "Matcher",
    "author_matches",
    "describe_follow",
    "match_follow",
    "name_key",
    "new_follow",
    "parse_name",
]
