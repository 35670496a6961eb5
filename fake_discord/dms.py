"""Direct messages: DM channels the bot opens with users, and users who don't accept DMs.

On Discord a bot opens a DM with ``POST /users/@me/channels {"recipient_id"}``; the answer is a type-1 channel
(the same one every time for the same user) whose ``recipients`` is that user. Opening always works for a
known user; *sending* is what fails: ``403`` with code ``50007`` "Cannot send messages to this user" when the
user has closed their DMs (privacy settings, or blocked the bot) or shares no server with the bot. The fake
models both: ``fake.dms.close(user_id)`` (and ``open``) per user, and "shares no server" from the guilds'
member lists. A DM has no roles and no @everyone; the bot may always view, send, embed, attach and read
history there.
"""

from __future__ import annotations

from collections.abc import Callable

from .permissions import P
from .world import Channel, ChannelType, Guild, User

__all__ = ["DM_PERMISSIONS", "DirectMessages"]

#: what a bot may do in a DM channel
DM_PERMISSIONS = int(P.VIEW_CHANNEL | P.SEND_MESSAGES | P.EMBED_LINKS | P.ATTACH_FILES | P.READ_MESSAGE_HISTORY)


class DirectMessages:
    """``fake.dms``: the DM channels opened so far and the users who refuse DMs."""

    def __init__(self, new_id: Callable[[], int], guilds: Callable[[], list[Guild]], bot_user_id: int) -> None:
        self._new_id = new_id
        self._guilds = guilds
        self._bot_user_id = bot_user_id
        #: recipient user id → DM channel
        self.by_user: dict[int, Channel] = {}
        self._by_id: dict[int, Channel] = {}
        #: users whose DMs are closed to the bot
        self.closed: set[int] = set()

    # -- test controls -------------------------------------------------------------------------------------
    def close(self, user_id: int) -> None:
        """The user stops accepting DMs: sends to their DM channel get 403/50007."""
        self.closed.add(int(user_id))

    def open(self, user_id: int) -> None:
        self.closed.discard(int(user_id))

    # -- lookups -------------------------------------------------------------------------------------------
    def channel(self, channel_id: int) -> Channel | None:
        return self._by_id.get(channel_id)

    def channel_with(self, user_id: int) -> Channel | None:
        return self.by_user.get(int(user_id))

    def find_user(self, user_id: int) -> User | None:
        for guild in self._guilds():
            member = guild.member(user_id)
            if member is not None:
                return member.user
        return None

    def can_receive(self, channel: Channel) -> bool:
        """Whether a send to this DM channel would be delivered (else Discord answers 50007)."""
        user = channel.recipient
        if user is None or user.id in self.closed or user.bot:
            return False
        return any(g.member(user.id) is not None and g.member(self._bot_user_id) is not None for g in self._guilds())

    # -- the route's work ----------------------------------------------------------------------------------
    def open_channel(self, user: User) -> Channel:
        """The DM channel with ``user``, created on first use (Discord returns the same channel every time)."""
        channel = self.by_user.get(user.id)
        if channel is None:
            channel = Channel(id=self._new_id(), name="", type=ChannelType.DM, recipient=user)
            self.by_user[user.id] = channel
            self._by_id[channel.id] = channel
        return channel
