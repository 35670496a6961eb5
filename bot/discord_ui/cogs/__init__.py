"""The extensions `PaperBot` loads, as an explicit tuple: adding a feature is one visible line here."""

from __future__ import annotations

EXTENSIONS: tuple[str, ...] = ("bot.discord_ui.cogs.paper", "bot.discord_ui.cogs.follows")

__all__ = ["EXTENSIONS"]
