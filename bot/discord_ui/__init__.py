"""The Discord layer: the only package that imports `discord` (named `discord_ui` so nobody confuses the two).

`PaperBot` (client.py) is the entry point; cogs translate interactions into use-case calls, `embeds` holds the
pure builders, `views` the components, `tree` the single error path.
"""

from __future__ import annotations

__all__: list[str] = []
