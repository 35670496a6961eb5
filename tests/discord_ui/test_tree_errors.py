"""The one error path: which text a user sees for each failure, how it is sent, and what is logged."""

from __future__ import annotations

import logging
from typing import Any
from unittest.mock import AsyncMock, MagicMock

import discord
import pytest
from discord import app_commands

from bot.discord_ui.tree import GENERIC_ERROR, PaperTree, command_outcome, error_message, report_interaction_error
from bot.errors import PaperNotFound, SourceError, UserInputError


def make_interaction(*, done: bool, command_name: str = "paper search") -> Any:
    """A discord.Interaction double spec'd from the real classes, so a typo in the code under test fails."""
    interaction = MagicMock(spec=discord.Interaction)
    interaction.response = MagicMock(spec=discord.InteractionResponse)
    interaction.response.is_done.return_value = done
    interaction.response.send_message = AsyncMock()
    interaction.followup = MagicMock(spec=discord.Webhook)
    interaction.followup.send = AsyncMock()
    interaction.command = MagicMock(spec=app_commands.Command)
    interaction.command.qualified_name = command_name
    interaction.namespace = app_commands.Namespace.__new__(app_commands.Namespace)
    interaction.namespace.__dict__.update({"query": "attention", "sort": "upvotes"})
    interaction.type = discord.InteractionType.application_command
    interaction.extras = {}
    interaction.created_at = discord.utils.utcnow()
    interaction.user = MagicMock(spec=discord.User)
    interaction.user.id = 42
    return interaction


@pytest.mark.parametrize(
    ("error", "expected", "unexpected"),
    [
        (UserInputError("Please type a search query."), "Please type a search query.", False),
        (PaperNotFound("**nope** @everyone"), "matching “\\*\\*nope\\*\\* @\u200beveryone”", False),
        (SourceError("arxiv", "timeout"), "try again in a few minutes", False),
        (app_commands.MissingPermissions(["manage_guild"]), "You need the Manage Server permission", False),
        (app_commands.CheckFailure(), "You don't have permission", False),
        (app_commands.NoPrivateMessage(), "only works in a server", False),
        (RuntimeError("boom"), GENERIC_ERROR, True),
    ],
)
def test_error_message_maps_each_failure(error: Exception, expected: str, unexpected: bool) -> None:
    text, is_bug = error_message(error)
    assert expected in text
    assert is_bug is unexpected


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (UserInputError("Please type a search query."), "user_error"),
        (PaperNotFound("nope"), "user_error"),
        (app_commands.MissingPermissions(["manage_guild"]), "user_error"),
        (app_commands.TransformerError("x", discord.AppCommandOptionType.string, MagicMock()), "user_error"),
        (app_commands.CommandOnCooldown(app_commands.Cooldown(5, 20), 12.0), "rate_limited"),
        (SourceError("arxiv", "timeout"), "upstream_error"),
        (RuntimeError("boom"), "error"),
    ],
)
def test_each_failure_has_a_metrics_outcome(error: Exception, outcome: str) -> None:
    assert command_outcome(error) == outcome
    command = MagicMock(spec=app_commands.Command)
    command.name = "search"
    assert command_outcome(app_commands.CommandInvokeError(command, error)) == outcome


def test_command_invoke_error_is_unwrapped() -> None:
    command = MagicMock(spec=app_commands.Command)
    command.name = "abstract"
    wrapped = app_commands.CommandInvokeError(command, PaperNotFound("x"))
    assert "couldn't find" in error_message(wrapped)[0]


async def test_unanswered_interaction_gets_an_ephemeral_response_and_a_logged_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    interaction = make_interaction(done=False)
    with caplog.at_level(logging.ERROR, logger="bot.discord_ui.tree"):
        await PaperTree.on_error(MagicMock(spec=PaperTree), interaction, _invoke_error(RuntimeError("boom")))
    interaction.response.send_message.assert_awaited_once()
    args, kwargs = interaction.response.send_message.await_args
    assert args == (GENERIC_ERROR,)
    assert kwargs["ephemeral"] is True
    assert kwargs["allowed_mentions"].everyone is False
    interaction.followup.send.assert_not_awaited()
    (record,) = caplog.records
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)
    assert "/paper search" in record.getMessage() and "'query': 'attention'" in record.getMessage()


async def test_deferred_interaction_gets_an_ephemeral_followup_without_traceback_for_expected_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    interaction = make_interaction(done=True)
    with caplog.at_level(logging.INFO, logger="bot.discord_ui.tree"):
        await report_interaction_error(interaction, UserInputError("Too long."))
    interaction.followup.send.assert_awaited_once()
    args, kwargs = interaction.followup.send.await_args
    assert args == ("Too long.",) and kwargs["ephemeral"] is True
    interaction.response.send_message.assert_not_awaited()
    assert all(r.exc_info is None for r in caplog.records)


async def test_a_failing_error_reply_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    interaction = make_interaction(done=False)
    response = MagicMock(status=404, reason="Not Found")
    interaction.response.send_message.side_effect = discord.NotFound(response, {"code": 10062, "message": "x"})
    with caplog.at_level(logging.WARNING, logger="bot.discord_ui.tree"):
        await report_interaction_error(interaction, UserInputError("x"))
    assert any("Could not report" in r.getMessage() for r in caplog.records)


def _invoke_error(original: Exception) -> app_commands.CommandInvokeError:
    command = MagicMock(spec=app_commands.Command)
    command.name = "search"
    return app_commands.CommandInvokeError(command, original)
