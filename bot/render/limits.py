"""Discord's limits, each written once; every builder in `bot.render` cuts and packs to these.

They are the limits Discord enforces with 400 / 50035 (Invalid Form Body): a body over any of them is refused
whole, so a builder that overshoots by one character loses the user's whole answer. Lengths are counted in
Unicode code points (Python's `len`). Embed limits apply per embed; `MESSAGE_EMBED_CHARS` is the sum over the
title, description, field names and values, footer and author name of *all* embeds of one message.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACTION_ROWS_MAX",
    "AUTHOR_MAX",
    "AUTOCOMPLETE_CHOICES_MAX",
    "BUTTONS_PER_ROW",
    "BUTTON_LABEL_MAX",
    "CHOICE_TEXT_MAX",
    "CONTENT_MAX",
    "CUSTOM_ID_MAX",
    "DESCRIPTION_MAX",
    "EMBEDS_PER_MESSAGE",
    "FIELDS_PER_EMBED",
    "FIELD_NAME_MAX",
    "FIELD_VALUE_MAX",
    "FOOTER_MAX",
    "MESSAGE_EMBED_CHARS",
    "NONCE_MAX",
    "SELECT_OPTIONS_MAX",
    "SELECT_PLACEHOLDER_MAX",
    "SELECT_TEXT_MAX",
    "THREAD_NAME_MAX",
    "TITLE_MAX",
]

# Messages
CONTENT_MAX: Final = 2000
EMBEDS_PER_MESSAGE: Final = 10
MESSAGE_EMBED_CHARS: Final = 6000
# A message nonce: an integer or a string of at most 25 characters.
NONCE_MAX: Final = 25

# One embed
TITLE_MAX: Final = 256
DESCRIPTION_MAX: Final = 4096
FIELDS_PER_EMBED: Final = 25
FIELD_NAME_MAX: Final = 256
FIELD_VALUE_MAX: Final = 1024
FOOTER_MAX: Final = 2048
AUTHOR_MAX: Final = 256

# Components (classic action rows)
ACTION_ROWS_MAX: Final = 5
BUTTONS_PER_ROW: Final = 5
BUTTON_LABEL_MAX: Final = 80
CUSTOM_ID_MAX: Final = 100
SELECT_OPTIONS_MAX: Final = 25
SELECT_TEXT_MAX: Final = 100  # an option's label, value and description each
SELECT_PLACEHOLDER_MAX: Final = 150

# Autocomplete answers
AUTOCOMPLETE_CHOICES_MAX: Final = 25
CHOICE_TEXT_MAX: Final = 100  # a choice's name and string value each

# Threads
THREAD_NAME_MAX: Final = 100
