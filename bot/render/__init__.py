"""Everything paperbot shows a person, built as plain data: one set of Discord limits, one escaping rule.

Every surface — slash-command replies, search pages, abstracts, trending, digest posts and previews, follow DMs,
the digest status view, the CLI's printed papers and `paperbot digest --dry-run` — is built here by pure
functions from the models. Nothing in this package imports `discord` or does I/O: a builder returns frozen specs
(`specs.MessageSpec`, `specs.EmbedSpec`, …) that `bot.discord_ui.adapter` turns into discord.py objects field by
field, and that `plain` prints as terminal text. That is why the dry run shows exactly what the bot posts, and
why property tests can prove that any paper fits Discord's limits.

Modules, one job each:

- `limits`: every Discord limit, once;
- `text`: whitespace, escaping, truncation, author lists, the small labels (upvotes, stars, dates);
- `specs`: the frozen message/embed/button/select specs, packing embeds into messages, dropping fields
  Discord rejected;
- `papers`: search pages, the abstract view, trending, autocomplete names;
- `digest`: a day's post in parts with their footer marker and nonce, weekly recaps, thread names, role pings;
- `status`: a digest subscription's settings, last and next post, failures and what to do about them;
- `follows`: the daily DM of papers that matched a member's follows;
- `plain`: the terminal renderer (CLI printers and the digest dry run).
"""

from __future__ import annotations

__all__: list[str] = []
