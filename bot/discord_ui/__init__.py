"""The Discord layer: the only package that imports `discord` (named `discord_ui` so nobody confuses the two).

`PaperBot` (client.py) is the entry point and owns the digest service; cogs translate interactions into use-case
calls (`cogs/paper.py`, `cogs/digest.py`), `adapter` turns the specs built by `bot.render` into discord.py objects,
`views` holds the components, `tree` the single error path, `digest_sink` posts digests, `digest_options`
validates the digest's slash-command options by the config file's rules.
"""

from __future__ import annotations

__all__: list[str] = []
