"""`/paper follow`, `/paper following`, `/paper unfollow`: a member's own keyword and author follows.

Any member may use them; every answer is ephemeral, and every call is keyed by `interaction.user.id` alone — a
member sees and changes only their own follows, whatever server they type in (the follows are theirs, not the
server's). Handlers translate only: the `FollowService` (`PaperBot.follows`) validates and stores, the builders
in `bot.render.follows` say it, the adapter sends it pinging nobody.

The three commands sit beside `/paper search` in the `/paper` group, which `cogs.paper` owns: this extension is
loaded after it and adds them to that group (and removes them when unloaded), so the follow feature stays one
module and one line in `EXTENSIONS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands

from bot.catalogue import FOLLOW_LIMIT
from bot.discord_ui.adapter import NO_MENTIONS, send_kwargs
from bot.errors import UserInputError
from bot.follows import FollowService, describe_follow
from bot.follows.requests import AUTHOR_MAX_CHARS
from bot.render.follows import following_view
from bot.render.limits import AUTOCOMPLETE_CHOICES_MAX
from bot.render.text import discord_time, escape, truncate

if TYPE_CHECKING:
    from bot.discord_ui.client import PaperBot

__all__ = ["follow_commands", "setup", "teardown"]

KEYWORDS_MAX_CHARS = 1000  # a one-line option: 20 keywords of any sensible length
NAMES = ("follow", "following", "unfollow")


def _service(interaction: discord.Interaction[Any]) -> FollowService:
    follows = cast("PaperBot", interaction.client).follows
    if follows is None:
        raise UserInputError("Follows are not running on this bot instance.")
    return follows


def _said(text: str) -> str:
    """A follow's description as shown back to the member (their own words, escaped for markdown)."""
    return truncate(escape(text), 500)


def follow_commands() -> list[app_commands.Command[Any, Any, None]]:
    """Fresh command objects for one bot (a command belongs to one parent group)."""

    @app_commands.command(name="follow", description="Get a daily DM with new papers on keywords or by an author")
    @app_commands.describe(
        keywords="Comma-separated; a paper matching any of them (title, abstract, keywords) is sent to you",
        author="An author's name, e.g. Jane Smith or J. Smith (with keywords: papers by them on those topics)",
    )
    async def follow(
        interaction: discord.Interaction[Any],
        keywords: app_commands.Range[str, 1, KEYWORDS_MAX_CHARS] | None = None,
        author: app_commands.Range[str, 1, AUTHOR_MAX_CHARS] | None = None,
    ) -> None:
        """Add a follow for the member; following again resumes paused DMs; at the cap, say what to do."""
        service = _service(interaction)
        user_id = interaction.user.id
        await interaction.response.defer(ephemeral=True, thinking=True)
        before = await service.following(user_id)
        added = await service.follow(user_id, guild_id=interaction.guild_id, keywords=keywords, author=author)
        if added.status == "limit":
            text = (
                f"You already follow {added.count} things, the most one member can have ({FOLLOW_LIMIT}). "
                "Remove one with `/paper unfollow`, then follow this again."
            )
        else:
            assert added.follow is not None
            what = _said(describe_follow(added.follow))
            head = f"You follow {what}." if added.status == "added" else f"You already follow {what}."
            lines = [head]
            if before is not None and before.paused:
                lines.append("Your DMs were paused; they are on again.")
            lines.append(
                f"Once a day, from {discord_time(service.next_dm_time())}, I DM you the new papers that match "
                f"(none new: no DM). You have {added.count} of {FOLLOW_LIMIT} follows: `/paper following` lists them."
            )
            text = "\n".join(lines)
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @app_commands.command(name="following", description="Your follows, and when your next DM comes")
    async def following(interaction: discord.Interaction[Any]) -> None:
        """The member's follows; if their DMs are paused, why and how to resume; the next DM time."""
        service = _service(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        follower = await service.following(interaction.user.id)
        if follower is None:
            message = following_view([], limit=FOLLOW_LIMIT, next_dm=service.next_dm_time())
        else:
            message = following_view(
                [describe_follow(f) for f in follower.follows],
                limit=FOLLOW_LIMIT,
                next_dm=service.next_dm_time(),
                paused_reason=follower.paused_reason,
                paused_at=follower.paused_at,
                last_dm_at=follower.last_dm_at,
            )
        await interaction.followup.send(**send_kwargs(message), ephemeral=True)

    @app_commands.command(name="unfollow", description="Stop one of your follows")
    @app_commands.describe(follow="The follow to stop (pick from your follows as you type)")
    async def unfollow(interaction: discord.Interaction[Any], follow: app_commands.Range[str, 1, 100]) -> None:
        """Remove one of the member's own follows (by the id the suggestion carries)."""
        service = _service(interaction)
        user_id = interaction.user.id
        if not follow.strip().isdigit():
            raise UserInputError("Pick one of your follows from the suggestions (`/paper following` lists them).")
        follow_id = int(follow.strip())
        await interaction.response.defer(ephemeral=True, thinking=True)
        follower = await service.following(user_id)
        mine = next((f for f in follower.follows if f.follow_id == follow_id), None) if follower else None
        if mine is None or not await service.unfollow(user_id, follow_id):
            text = "You have no such follow (perhaps it is already gone); `/paper following` lists yours."
        else:
            left = len(follower.follows) - 1 if follower else 0
            text = f"You no longer follow {_said(describe_follow(mine))}. {left} follow(s) left."
        await interaction.followup.send(text, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @unfollow.autocomplete("follow")
    async def _unfollow_choices(interaction: discord.Interaction[Any], current: str) -> list[app_commands.Choice[str]]:
        """The member's own follows matching what they typed (every one of them, when nothing is typed)."""
        follows = cast("PaperBot", interaction.client).follows
        if follows is None:
            return []
        choices = await follows.choices(interaction.user.id, current)
        return [app_commands.Choice(name=label, value=str(fid)) for fid, label in choices][:AUTOCOMPLETE_CHOICES_MAX]

    return [follow, following, unfollow]


def _paper_group(bot: PaperBot) -> app_commands.Group:
    group = bot.tree.get_command("paper")
    if not isinstance(group, app_commands.Group):
        raise RuntimeError("bot.discord_ui.cogs.follows needs the /paper group: load bot.discord_ui.cogs.paper first")
    return group


async def setup(bot: PaperBot) -> None:
    """Extension entry point: add the follow commands to `/paper`."""
    group = _paper_group(bot)
    for command in follow_commands():
        group.add_command(command)


async def teardown(bot: PaperBot) -> None:
    """Remove the follow commands again (extension unload)."""
    group = bot.tree.get_command("paper")
    if isinstance(group, app_commands.Group):
        for name in NAMES:
            group.remove_command(name)
