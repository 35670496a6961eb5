"""The command tree with paperbot's one error path for slash commands and component callbacks, and the one place
where every slash command is counted.

Every failure inside an interaction ends here (`PaperTree.on_error` for commands, `report_interaction_error`
for views, which discord.py would otherwise route to `View.on_error` and only log). The user gets one short
ephemeral line — never a traceback, never silence — and the log gets the full traceback together with the
command and its options, so a report like "abstract failed" can be reproduced. Expected failures
(`UserInputError`, `PaperNotFound`, permission checks, an upstream outage) are translated to friendly text
and logged without a traceback; anything else is a bug and is logged with one.

**Command metrics.** Each slash command is counted by name and outcome with its latency
(`paperbot_commands_total`, `paperbot_command_seconds`), here and nowhere else: `interaction_check` notes when
the tree received it, a success is recorded on discord.py's `app_command_completion` (dispatched once the
callback returned, i.e. after the final answer was sent), a failure in `on_error`. Outcomes: `ok`,
`user_error` (bad input, unknown paper, missing permission), `rate_limited` (the member's budget),
`upstream_error` (Hugging Face or arXiv failed), `error` (a bug). Autocomplete and component presses are not
slash commands and are not counted.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import discord
from discord import app_commands

from bot import metrics
from bot.discord_ui._replies import send_text
from bot.errors import PaperNotFound, SourceError, UserInputError
from bot.render.limits import CONTENT_MAX
from bot.render.text import escape, one_line, truncate

__all__ = [
    "GENERIC_ERROR",
    "PaperTree",
    "command_outcome",
    "error_message",
    "record_command",
    "report_interaction_error",
    "required_permissions",
]

log = logging.getLogger(__name__)

GENERIC_ERROR = "Something went wrong on my side while handling that. It has been logged; please try again later."
_RECEIVED = "paperbot_received"  # key in Interaction.extras: time.monotonic() when the tree got the interaction


def _unwrap(error: BaseException) -> BaseException:
    """The exception the handler raised, not discord.py's CommandInvokeError/TransformerError wrapper."""
    while isinstance(error, app_commands.CommandInvokeError) and error.original is not None:
        error = error.original
    return error


def _permission_names(permissions: list[str]) -> str:
    return ", ".join(p.replace("_", " ").replace("guild", "server").title() for p in permissions)


def error_message(error: BaseException) -> tuple[str, bool]:
    """The user-facing text for `error`, and whether it is unexpected (a bug worth a logged traceback)."""
    error = _unwrap(error)
    if isinstance(error, UserInputError):
        return str(error), False
    if isinstance(error, PaperNotFound):
        query = truncate(escape(one_line(error.query)), 200)
        return (
            f"I couldn't find a paper matching “{query}”. Try `/paper search` with a few keywords, "
            "or give an arXiv id (2401.12345) or an arXiv / Hugging Face URL.",
            False,
        )
    if isinstance(error, SourceError):
        return (
            "Hugging Face or arXiv did not answer properly just now, so I couldn't fetch that paper. "
            "Please try again in a few minutes.",
            False,
        )
    if isinstance(error, app_commands.MissingPermissions):
        return f"You need the {_permission_names(error.missing_permissions)} permission to use this command.", False
    if isinstance(error, app_commands.BotMissingPermissions):
        return (
            f"I need the {_permission_names(error.missing_permissions)} permission in this channel to do that.",
            False,
        )
    if isinstance(error, app_commands.NoPrivateMessage):
        return "This command only works in a server.", False
    if isinstance(error, app_commands.CommandOnCooldown):
        return f"Slow down a little: try again in {error.retry_after:.0f} s.", False
    if isinstance(error, app_commands.CommandSignatureMismatch | app_commands.CommandNotFound):
        # The user's client still shows an older command tree (we synced a new one): a reload fixes it.
        return "This command changed since your Discord app loaded it. Reload Discord (Ctrl+R) and try again.", False
    if isinstance(error, app_commands.CheckFailure):
        return "You don't have permission to use this command here.", False
    if isinstance(error, app_commands.TransformerError):
        return f"I couldn't understand the value “{truncate(escape(str(error.value)), 100)}”.", False
    return GENERIC_ERROR, True


def command_outcome(error: BaseException) -> str:
    """The `outcome` label of a slash command that failed with `error` (see the module docstring)."""
    error = _unwrap(error)
    if isinstance(error, app_commands.CommandOnCooldown):
        return "rate_limited"
    if isinstance(error, SourceError):
        return "upstream_error"
    _text, unexpected = error_message(error)
    return "error" if unexpected else "user_error"


def record_command(interaction: discord.Interaction[Any], outcome: str) -> None:
    """Count a slash command's outcome with the seconds since the tree received it (else since Discord made it)."""
    if interaction.type is not discord.InteractionType.application_command:
        return
    command = interaction.command
    name = command.qualified_name if command is not None else "unknown"
    received = interaction.extras.get(_RECEIVED)
    if isinstance(received, float):
        seconds = time.monotonic() - received
    else:
        seconds = (discord.utils.utcnow() - interaction.created_at).total_seconds()
    metrics.command_finished(name, outcome, seconds)


def _describe(interaction: discord.Interaction[Any]) -> str:
    """Command name and options (or component id and message) of an interaction, for the log line."""
    if interaction.type is discord.InteractionType.component:
        data: Any = interaction.data or {}
        message = interaction.message.id if interaction.message is not None else "?"
        return f"component {data.get('custom_id')!r} values={data.get('values')!r} on message {message}"
    command = interaction.command
    name = command.qualified_name if command is not None else "?"
    options = {key: value for key, value in interaction.namespace}
    return f"/{name} options={truncate(repr(options), 1000)}"


async def report_interaction_error(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """Log `error` and tell the user in one ephemeral line, whether or not the interaction was answered."""
    text, unexpected = error_message(error)
    original = _unwrap(error)
    where = _describe(interaction)
    user = interaction.user.id if interaction.user else "?"
    if unexpected:
        log.error("Unhandled error in %s (user %s)", where, user, exc_info=original)
    else:
        log.info("%s in %s (user %s): %s", type(original).__name__, where, user, original)
    text = truncate(text, CONTENT_MAX)
    try:
        # After a public defer Discord turns the first followup into the deferred message, so this line
        # replaces the "thinking…" placeholder rather than adding to it.
        await send_text(interaction, text, ephemeral=True)
    except discord.HTTPException as exc:  # expired token, deleted channel: nothing more to tell the user
        log.warning("Could not report an error to the user for %s: %s", where, exc)


def required_permissions(command: object) -> discord.Permissions:
    """The permissions a command asks of a member: its own `default_permissions` and every parent group's."""
    required = discord.Permissions.none()
    node: Any = command
    while node is not None:
        permissions = getattr(node, "default_permissions", None)
        if permissions is not None:
            required |= permissions
        node = getattr(node, "parent", None)
    return required


class PaperTree(app_commands.CommandTree[Any]):
    """A CommandTree with one error path for slash commands, and admin autocomplete kept from members.

    discord.py runs no checks (neither a group's `interaction_check` nor decorators on the command) before an
    autocomplete callback, so a suggestion list an admin command builds from server data — subscribed
    channels, private ones too, with their failure reasons — would reach any member who starts typing.
    `interaction_check` closes that for every command at once: an autocomplete of a command that needs
    permissions (`default_permissions` on it or a parent group) answers an empty list to a member without them.
    """

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Note when a command arrived (its latency starts here); answer an admin command's autocomplete with
        nothing unless the member has its permissions."""
        if interaction.type is not discord.InteractionType.autocomplete:
            interaction.extras[_RECEIVED] = time.monotonic()
            return True
        command = interaction.command
        if command is None:
            return True  # discord.py answers nothing for an unknown command anyway
        needed = required_permissions(command)
        if interaction.permissions >= needed:
            return True
        log.info(
            "Refused autocomplete of /%s to user %s (lacks %s)",
            command.qualified_name,
            interaction.user.id if interaction.user else "?",
            needed.value & ~interaction.permissions.value,
        )
        await interaction.response.autocomplete([])
        return False

    async def on_error(self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError) -> None:
        """Answer the user with a short ephemeral message and log the failure (traceback if unexpected)."""
        try:
            await report_interaction_error(interaction, error)
        finally:
            record_command(interaction, command_outcome(error))

    def command_completed(self, interaction: discord.Interaction[Any]) -> None:
        """A slash command's callback returned: count it as `ok` (the client calls this on
        `app_command_completion`, which discord.py dispatches only for successful commands)."""
        record_command(interaction, "ok")
