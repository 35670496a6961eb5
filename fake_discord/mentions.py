"""Who a message pings: its content's mentions, filtered by ``allowed_mentions`` the way Discord filters them.

Discord's rules, all modelled:

- Only ``content`` can ping; mentions inside embeds never do.
- Syntax: ``<@id>`` / ``<@!id>`` a user, ``<@&id>`` a role, ``@everyone`` / ``@here`` everyone.
- ``allowed_mentions`` absent: everything in the content is parsed (users, roles, everyone) and a reply pings
  the author it replies to. Present: only the kinds in ``parse`` are parsed, plus the ids listed in
  ``users`` / ``roles``; a reply pings its author only with ``replied_user: true``.
- ``@everyone`` / ``@here`` ping only when the author has MENTION_EVERYONE in the channel.
- A role pings only if it exists in the guild and is ``mentionable`` — or the author has MENTION_EVERYONE
  (which lets it ping any role).
- In DMs there are no roles and no @everyone.
- Discord notifies when a message is created; an edit changes the message's ``mentions`` but pings nobody
  new. So :class:`~fake_discord.StoredMessage` keeps ``pings`` (frozen when the message first shows content)
  apart from ``mentions``/``mention_roles``/``mention_everyone`` (current, as Discord's message object has).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["MentionRules", "Mentions", "effective_mentions"]

_USER_MENTION = re.compile(r"<@!?(\d{15,21})>")
_ROLE_MENTION = re.compile(r"<@&(\d{15,21})>")


@dataclass(frozen=True)
class MentionRules:
    """What the author may ping where the message is posted (computed by the fake from the world)."""

    can_mention_everyone: bool = False
    #: roles that exist where the message is posted (empty in DMs)
    roles: frozenset[int] = frozenset()
    #: roles of ``roles`` that are mentionable (ignored when ``can_mention_everyone``)
    mentionable_roles: frozenset[int] = frozenset()
    #: the author of the message this one replies to, if any
    replied_author_id: int | None = None

    def may_ping_role(self, role_id: int) -> bool:
        return role_id in self.roles and (self.can_mention_everyone or role_id in self.mentionable_roles)


@dataclass(frozen=True)
class Mentions:
    """Who is (or was) pinged: ``everyone``/``here`` separately, users and roles in content order."""

    everyone: bool = False
    here: bool = False
    users: tuple[int, ...] = ()
    roles: tuple[int, ...] = ()

    @property
    def nobody(self) -> bool:
        return not (self.everyone or self.here or self.users or self.roles)

    @property
    def mention_everyone(self) -> bool:
        """Discord's ``mention_everyone`` field: true for @everyone and for @here."""
        return self.everyone or self.here


def effective_mentions(content: str, allowed_mentions: Mapping[str, Any] | None, rules: MentionRules) -> Mentions:
    """Who Discord pings for ``content`` under ``allowed_mentions`` (``None`` = the field was not sent)."""
    if allowed_mentions is None:
        parse = {"everyone", "users", "roles"}
        listed_users: set[int] = set()
        listed_roles: set[int] = set()
        replied_user = True
    else:
        parse = set(allowed_mentions.get("parse") or [])
        listed_users = {int(u) for u in allowed_mentions.get("users") or []}
        listed_roles = {int(r) for r in allowed_mentions.get("roles") or []}
        replied_user = bool(allowed_mentions.get("replied_user", False))
    may_everyone = rules.can_mention_everyone and "everyone" in parse
    users = [u for u in _ordered_ids(_USER_MENTION, content) if "users" in parse or u in listed_users]
    if replied_user and rules.replied_author_id is not None and rules.replied_author_id not in users:
        users.append(rules.replied_author_id)
    roles = [
        r
        for r in _ordered_ids(_ROLE_MENTION, content)
        if ("roles" in parse or r in listed_roles) and rules.may_ping_role(r)
    ]
    return Mentions(
        everyone=may_everyone and "@everyone" in content,
        here=may_everyone and "@here" in content,
        users=tuple(users),
        roles=tuple(roles),
    )


def _ordered_ids(pattern: re.Pattern[str], content: str) -> list[int]:
    return [int(m) for m in dict.fromkeys(pattern.findall(content))]
