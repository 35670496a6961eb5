"""The paper catalogue: `Catalogue` is the only door to SQLite."""

from bot.catalogue.store import Catalogue, DayChange

__all__ = ["Catalogue", "DayChange"]
