"""The fake's configured world: guilds, roles, channels, members, and the default test server.

Guilds are plain mutable dataclasses. The fake serialises them into READY/GUILD_CREATE and REST payloads and
computes permissions from them (``Guild.permissions_for``), so a test controls what the bot may do by shaping
roles and overwrites — e.g. the default guild's ``#announcements`` denies the bot SEND_MESSAGES, so a post there
gets 50013 just as on Discord.

``default_guild()`` builds a small, realistic server with stable ids (module constants below) that most tests
can use as is: an admin, a moderator with Manage Server, two plain members, and channels where the bot can
post, cannot post, cannot see, and cannot embed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from .permissions import ALL_PERMISSIONS, DEFAULT_EVERYONE, P

__all__ = [
    "ADMIN_ROLE_ID",
    "ADMIN_USER_ID",
    "ANNOUNCEMENTS_CHANNEL_ID",
    "APP_ID",
    "BOT_ROLE_ID",
    "BOT_USER_ID",
    "CATEGORY_CHANNEL_ID",
    "GENERAL_CHANNEL_ID",
    "GUILD_ID",
    "HIDDEN_CHANNEL_ID",
    "MEMBER_USER_ID",
    "MODERATOR_ROLE_ID",
    "MODERATOR_USER_ID",
    "NO_EMBEDS_CHANNEL_ID",
    "OTHER_USER_ID",
    "OWNER_USER_ID",
    "THREAD_TYPES",
    "VOICE_CHANNEL_ID",
    "Channel",
    "ChannelType",
    "Guild",
    "Member",
    "Overwrite",
    "Role",
    "User",
    "default_guild",
    "guild_id_on_shard",
    "shard_of",
    "small_guild",
]

# Stable ids for the default world. Real snowflake magnitudes (18-19 digits), distinct prefixes per kind.
APP_ID = 1_200_000_000_000_000_001
BOT_USER_ID = APP_ID  # modern applications: the bot user's id equals the application id
GUILD_ID = 1_100_000_000_000_000_001
OWNER_USER_ID = 1_300_000_000_000_000_001
ADMIN_USER_ID = 1_300_000_000_000_000_002
MODERATOR_USER_ID = 1_300_000_000_000_000_003
MEMBER_USER_ID = 1_300_000_000_000_000_004
OTHER_USER_ID = 1_300_000_000_000_000_005
ADMIN_ROLE_ID = 1_500_000_000_000_000_001
MODERATOR_ROLE_ID = 1_500_000_000_000_000_002
BOT_ROLE_ID = 1_500_000_000_000_000_003
GENERAL_CHANNEL_ID = 1_400_000_000_000_000_001
ANNOUNCEMENTS_CHANNEL_ID = 1_400_000_000_000_000_002  # bot: VIEW but not SEND_MESSAGES -> 50013
HIDDEN_CHANNEL_ID = 1_400_000_000_000_000_003  # bot: no VIEW_CHANNEL -> 50001
NO_EMBEDS_CHANNEL_ID = 1_400_000_000_000_000_004  # bot: no EMBED_LINKS -> 50013 when sending embeds
CATEGORY_CHANNEL_ID = 1_400_000_000_000_000_005
VOICE_CHANNEL_ID = 1_400_000_000_000_000_006

_JOINED_AT = "2024-01-01T00:00:00.000000+00:00"


class ChannelType:
    GUILD_TEXT = 0
    DM = 1
    GUILD_VOICE = 2
    GUILD_CATEGORY = 4
    GUILD_ANNOUNCEMENT = 5
    ANNOUNCEMENT_THREAD = 10
    PUBLIC_THREAD = 11
    PRIVATE_THREAD = 12
    GUILD_FORUM = 15


#: Channel types that are threads: they take their permissions from their parent channel.
THREAD_TYPES = frozenset({ChannelType.ANNOUNCEMENT_THREAD, ChannelType.PUBLIC_THREAD, ChannelType.PRIVATE_THREAD})


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord routes a guild's events to: ``(guild_id >> 22) % shard_count``."""
    return (guild_id >> 22) % shard_count


@dataclass
class User:
    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class Role:
    id: int
    name: str
    permissions: int = 0
    position: int = 0
    managed: bool = False
    #: anyone may ping a mentionable role; others only ping for authors with MENTION_EVERYONE
    mentionable: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }


@dataclass
class Overwrite:
    """A channel permission overwrite; ``type`` 0 = role, 1 = member."""

    id: int
    type: int = 0
    allow: int = 0
    deny: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"id": str(self.id), "type": self.type, "allow": str(self.allow), "deny": str(self.deny)}


@dataclass
class Channel:
    """A guild channel, a thread (``parent_id`` = its text channel, ``owner_id`` = who started it) or a DM
    channel (type 1, ``recipient`` set, in no guild)."""

    id: int
    name: str
    type: int = ChannelType.GUILD_TEXT
    overwrites: list[Overwrite] = field(default_factory=list)
    parent_id: int | None = None
    topic: str | None = None
    position: int = 0
    nsfw: bool = False
    #: threads: who started it, when it archives (minutes), and whether it has been archived/locked
    owner_id: int | None = None
    auto_archive_duration: int = 1440
    archived: bool = False
    locked: bool = False
    rate_limit_per_user: int = 0
    created_at: str | None = None
    #: DM channels: the other user
    recipient: User | None = None

    @property
    def is_text(self) -> bool:
        return self.type in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT, ChannelType.DM) or self.is_thread

    @property
    def is_thread(self) -> bool:
        return self.type in THREAD_TYPES

    def to_dict(
        self, guild_id: int | None, *, message_count: int = 0, last_message_id: int | None = None
    ) -> dict[str, Any]:
        last = None if last_message_id is None else str(last_message_id)
        if self.type == ChannelType.DM:
            recipients = [self.recipient.to_dict()] if self.recipient is not None else []
            return {
                "id": str(self.id),
                "type": self.type,
                "last_message_id": last,
                "flags": 0,
                "recipients": recipients,
            }
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(guild_id),
            "name": self.name,
            "parent_id": None if self.parent_id is None else str(self.parent_id),
            "nsfw": self.nsfw,
            "flags": 0,
        }
        if self.is_thread:
            created = self.created_at or _JOINED_AT
            data.update(
                owner_id=str(self.owner_id),
                last_message_id=last,
                rate_limit_per_user=self.rate_limit_per_user,
                message_count=message_count,
                total_message_sent=message_count,
                member_count=1,
                thread_metadata={
                    "archived": self.archived,
                    "auto_archive_duration": self.auto_archive_duration,
                    "archive_timestamp": created,
                    "locked": self.locked,
                    "create_timestamp": created,
                },
            )
            return data
        data.update(position=self.position, permission_overwrites=[o.to_dict() for o in self.overwrites])
        if self.is_text:
            data.update(topic=self.topic, last_message_id=last, rate_limit_per_user=self.rate_limit_per_user)
        elif self.type == ChannelType.GUILD_VOICE:
            data.update(bitrate=64000, user_limit=0, rtc_region=None)
        return data


@dataclass
class Member:
    user: User
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = _JOINED_AT

    @property
    def id(self) -> int:
        return self.user.id

    def to_dict(self, *, permissions: int | None = None, with_user: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.to_dict()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class Guild:
    id: int
    name: str
    owner_id: int
    roles: list[Role] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    locale: str = "en-US"

    def __post_init__(self) -> None:
        if not any(r.id == self.id for r in self.roles):
            # Every guild has an @everyone role whose id is the guild id.
            self.roles.insert(0, Role(id=self.id, name="@everyone", permissions=DEFAULT_EVERYONE))

    # -- lookups -------------------------------------------------------------------------------------------
    def channel(self, channel_id: int) -> Channel | None:
        return next((c for c in self.channels if c.id == channel_id), None)

    def role(self, role_id: int) -> Role | None:
        return next((r for r in self.roles if r.id == role_id), None)

    def member(self, user_id: int) -> Member | None:
        return next((m for m in self.members if m.id == user_id), None)

    @property
    def everyone(self) -> Role:
        role = self.role(self.id)
        assert role is not None
        return role

    # -- permissions (Discord's documented algorithm) ------------------------------------------------------
    def base_permissions(self, member: Member) -> int:
        if member.id == self.owner_id:
            return ALL_PERMISSIONS
        perms = self.everyone.permissions
        for role_id in member.roles:
            role = self.role(role_id)
            if role is not None:
                perms |= role.permissions
        if perms & P.ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    def permissions_for(self, member: Member, channel: Channel | None = None) -> int:
        """The member's effective permissions in ``channel`` (guild-level permissions when ``None``).

        A thread has no overwrites of its own: Discord computes its permissions from its parent channel (and
        requires SEND_MESSAGES_IN_THREADS rather than SEND_MESSAGES to post in it).
        """
        if channel is not None and channel.is_thread and channel.parent_id is not None:
            parent = self.channel(channel.parent_id)
            return self.permissions_for(member, parent) if parent is not None else 0
        perms = self.base_permissions(member)
        if channel is None or perms & P.ADMINISTRATOR:
            return perms
        overwrites = {(o.type, o.id): o for o in channel.overwrites}
        if channel.parent_id is not None and not channel.overwrites:
            parent = self.channel(channel.parent_id)
            if parent is not None:  # a channel without overwrites is "synced" with its category
                overwrites = {(o.type, o.id): o for o in parent.overwrites}
        everyone = overwrites.get((0, self.id))
        if everyone is not None:
            perms &= ~everyone.deny
            perms |= everyone.allow
        allow = deny = 0
        for role_id in member.roles:
            ow = overwrites.get((0, role_id))
            if ow is not None:
                allow |= ow.allow
                deny |= ow.deny
        perms &= ~deny
        perms |= allow
        member_ow = overwrites.get((1, member.id))
        if member_ow is not None:
            perms &= ~member_ow.deny
            perms |= member_ow.allow
        if not perms & P.VIEW_CHANNEL:
            return 0
        return perms

    # -- serialisation -------------------------------------------------------------------------------------
    def to_dict(self, *, full: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": "us-west",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.to_dict() for r in self.roles],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": self.locale,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "max_members": 500000,
        }
        if full:  # GUILD_CREATE extras
            data.update(
                joined_at=_JOINED_AT,
                large=False,
                unavailable=False,
                member_count=len(self.members),
                voice_states=[],
                members=[m.to_dict() for m in self.members],
                channels=[c.to_dict(self.id) for c in self.channels if not c.is_thread],
                threads=[c.to_dict(self.id) for c in self.channels if c.is_thread and not c.archived],
                presences=[],
                stage_instances=[],
                guild_scheduled_events=[],
                soundboard_sounds=[],
            )
        return data


def bot_user(app_id: int = APP_ID, name: str = "paperbot") -> User:
    return User(id=app_id, username=name, bot=True)


def default_guild(
    guild_id: int = GUILD_ID,
    *,
    name: str = "Paper Lab",
    bot_user_id: int = BOT_USER_ID,
) -> Guild:
    """A small server with every permission situation the bot's tests need (see module constants)."""
    roles = [
        Role(id=guild_id, name="@everyone", permissions=DEFAULT_EVERYONE),
        Role(id=ADMIN_ROLE_ID, name="Admin", permissions=int(P.ADMINISTRATOR), position=3),
        Role(id=MODERATOR_ROLE_ID, name="Moderator", permissions=int(P.MANAGE_GUILD), position=2),
        Role(
            id=BOT_ROLE_ID,
            name="paperbot",
            # MENTION_EVERYONE on purpose: a reply that forgets allowed_mentions then *would* ping
            # (``StoredMessage.mention_everyone``), so tests catch it.
            permissions=int(
                P.VIEW_CHANNEL | P.SEND_MESSAGES | P.EMBED_LINKS | P.READ_MESSAGE_HISTORY | P.MENTION_EVERYONE
            ),
            position=1,
            managed=True,
        ),
    ]
    channels = [
        Channel(id=CATEGORY_CHANNEL_ID, name="Papers", type=ChannelType.GUILD_CATEGORY, position=0),
        Channel(id=GENERAL_CHANNEL_ID, name="general", parent_id=CATEGORY_CHANNEL_ID, position=1),
        Channel(
            id=ANNOUNCEMENTS_CHANNEL_ID,
            name="announcements",
            position=2,
            overwrites=[
                Overwrite(id=guild_id, type=0, deny=int(P.SEND_MESSAGES)),
                Overwrite(id=BOT_ROLE_ID, type=0, deny=int(P.SEND_MESSAGES)),
            ],
        ),
        Channel(
            id=HIDDEN_CHANNEL_ID,
            name="staff-only",
            position=3,
            overwrites=[Overwrite(id=guild_id, type=0, deny=int(P.VIEW_CHANNEL))],
        ),
        Channel(
            id=NO_EMBEDS_CHANNEL_ID,
            name="no-embeds",
            position=4,
            overwrites=[
                Overwrite(id=guild_id, type=0, deny=int(P.EMBED_LINKS)),
                Overwrite(id=BOT_ROLE_ID, type=0, deny=int(P.EMBED_LINKS)),
            ],
        ),
        Channel(id=VOICE_CHANNEL_ID, name="Voice", type=ChannelType.GUILD_VOICE, position=5),
    ]
    members = [
        Member(User(OWNER_USER_ID, "owner", "Server Owner")),
        Member(User(ADMIN_USER_ID, "admin", "Ada Admin"), roles=[ADMIN_ROLE_ID]),
        Member(User(MODERATOR_USER_ID, "moderator", "Mo Moderator"), roles=[MODERATOR_ROLE_ID]),
        Member(User(MEMBER_USER_ID, "member", "Mem Ber")),
        Member(User(OTHER_USER_ID, "other", "Oth Er")),
        Member(
            bot_user(bot_user_id), roles=[BOT_ROLE_ID], joined_at=dt.datetime(2024, 1, 2, tzinfo=dt.UTC).isoformat()
        ),
    ]
    return Guild(id=guild_id, name=name, owner_id=OWNER_USER_ID, roles=roles, channels=channels, members=members)


# Guilds made by ``guild_id_on_shard``/``small_guild`` start here, far from the default world's ids.
_SHARDED_GUILD_EPOCH = 1_110_000_000_000_000_000 >> 22


def guild_id_on_shard(shard_id: int, shard_count: int, index: int = 0) -> int:
    """The ``index``-th guild id (0, 1, …) that Discord routes to ``shard_id`` of ``shard_count``.

    The low 22 bits are left free (only bit 0 is set), so :func:`small_guild` can derive its channel and role
    ids from the guild id without colliding with any other guild made here.
    """
    if not 0 <= shard_id < shard_count:
        raise ValueError(f"shard {shard_id} is not one of {shard_count} shards")
    first = _SHARDED_GUILD_EPOCH + (shard_id - _SHARDED_GUILD_EPOCH) % shard_count
    return ((first + index * shard_count) << 22) | 1


def small_guild(guild_id: int, *, name: str | None = None, channels: int = 1, bot_user_id: int = BOT_USER_ID) -> Guild:
    """A minimal guild for many-guild worlds (sharding, fan-out): ids derived from ``guild_id``.

    Roles: @everyone (Discord's defaults), the bot's managed role (view, send, embed, read history, create
    public threads — *not* MENTION_EVERYONE, so role pings obey each role's ``mentionable``) at
    ``guild_id + 1``. Text channels ``#papers-0…`` at ``guild_id + 2 + i``. Members: the default world's owner,
    member and other user (same user ids in every guild, as real users share servers), and the bot.
    """
    bot_role = Role(
        id=guild_id + 1,
        name="paperbot",
        permissions=int(
            P.VIEW_CHANNEL
            | P.SEND_MESSAGES
            | P.EMBED_LINKS
            | P.READ_MESSAGE_HISTORY
            | P.CREATE_PUBLIC_THREADS
            | P.SEND_MESSAGES_IN_THREADS
        ),
        position=1,
        managed=True,
    )
    roles = [Role(id=guild_id, name="@everyone", permissions=DEFAULT_EVERYONE), bot_role]
    text = [Channel(id=guild_id + 2 + i, name=f"papers-{i}", position=i) for i in range(channels)]
    members = [
        Member(User(OWNER_USER_ID, "owner", "Server Owner")),
        Member(User(MEMBER_USER_ID, "member", "Mem Ber")),
        Member(User(OTHER_USER_ID, "other", "Oth Er")),
        Member(bot_user(bot_user_id), roles=[bot_role.id]),
    ]
    return Guild(
        id=guild_id,
        name=name or f"Guild {guild_id}",
        owner_id=OWNER_USER_ID,
        roles=roles,
        channels=text,
        members=members,
    )
