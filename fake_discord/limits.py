"""The request-body limits Discord enforces (400 / 50035 Invalid Form Body, 50006 empty message).

Each ``validate_*`` function returns a :class:`FormErrors` (empty when the body is acceptable) whose paths and
codes follow Discord's ``errors`` tree, e.g. ``embeds.0.description`` / ``BASE_TYPE_MAX_LENGTH``. The limits
are Discord's documented ones (Message, Embed limits, Component and Application Command reference pages):

- content ≤ 2000 characters; ≤ 10 embeds; embed title ≤ 256, description ≤ 4096, ≤ 25 fields with name
  1..256 and value 1..1024, footer text ≤ 2048, author name ≤ 256, and ≤ 6000 characters summed over the
  title/description/field/footer/author texts of *all* embeds of one message; embed URLs must be http(s) or
  ``attachment://``;
- ≤ 5 action rows, each with 1..5 buttons or exactly one select; custom_id ≤ 100 and unique per message; button
  label ≤ 80; select placeholder ≤ 150, 1..25 options with label/value 1..100 and description ≤ 100;
- autocomplete results: ≤ 25 choices, name 1..100, string value ≤ 100;
- command sync: names ``^[-_'\\w]{1,32}$`` lower case, descriptions 1..100, ≤ 25 options and choices, at most
  100 chat-input commands, required options before optional ones.

Lengths are counted in Unicode code points (``len(str)``). The fake is deliberately no more lenient than
Discord; where Discord's exact behaviour is unknown it errs on the strict side and says so in comments.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from .errors import FormErrors

__all__ = [
    "CONTENT_MAX",
    "EMBED_TOTAL_MAX",
    "MessageFlags",
    "embed_text_length",
    "is_empty_message",
    "validate_autocomplete",
    "validate_commands",
    "validate_message",
]

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
ACTION_ROWS_MAX = 5
ROW_BUTTONS_MAX = 5
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
SELECT_PLACEHOLDER_MAX = 150
SELECT_OPTIONS_MAX = 25
SELECT_OPTION_TEXT_MAX = 100
AUTOCOMPLETE_CHOICES_MAX = 25
CHOICE_TEXT_MAX = 100
COMMANDS_MAX = 100
COMMAND_OPTIONS_MAX = 25
COMMAND_TOTAL_TEXT_MAX = 8000

_NAME_RE = re.compile(r"^[-_'\w]{1,32}$")


class MessageFlags:
    CROSSPOSTED = 1 << 0
    SUPPRESS_EMBEDS = 1 << 2
    EPHEMERAL = 1 << 6
    LOADING = 1 << 7
    SUPPRESS_NOTIFICATIONS = 1 << 12
    IS_COMPONENTS_V2 = 1 << 15


def _max_len(errors: FormErrors, path: tuple[str | int, ...], value: Any, limit: int) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        errors.add(path, "BASE_TYPE_STRING", "Must be a string.")
    elif len(value) > limit:
        errors.add(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _bounded_len(errors: FormErrors, path: tuple[str | int, ...], value: Any, low: int, high: int) -> None:
    if value is None:
        errors.add(path, "BASE_TYPE_REQUIRED", "This field is required")
    elif not isinstance(value, str):
        errors.add(path, "BASE_TYPE_STRING", "Must be a string.")
    elif not low <= len(value) <= high:
        errors.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


def _url(errors: FormErrors, path: tuple[str | int, ...], value: Any, *, attachment_ok: bool = True) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        errors.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")
        return
    parts = urlsplit(value)
    schemes = {"http", "https", "attachment"} if attachment_ok else {"http", "https"}
    if parts.scheme not in schemes:
        errors.add(
            path,
            "URL_TYPE_INVALID_SCHEME",
            f"Scheme \"{parts.scheme}\" is not supported. Scheme must be one of ('http', 'https').",
        )
    elif not parts.netloc or any(c.isspace() for c in value):
        errors.add(path, "URL_TYPE_INVALID_URL", "Not a well formed URL.")


def embed_text_length(embed: Mapping[str, Any]) -> int:
    """The characters of one embed that count towards the 6000-per-message total."""
    total = len(embed.get("title") or "") + len(embed.get("description") or "")
    for f in embed.get("fields") or []:
        total += len(f.get("name") or "") + len(f.get("value") or "")
    total += len((embed.get("footer") or {}).get("text") or "")
    total += len((embed.get("author") or {}).get("name") or "")
    return total


def _validate_embed(errors: FormErrors, i: int, embed: Any) -> None:
    base: tuple[str | int, ...] = ("embeds", i)
    if not isinstance(embed, Mapping):
        errors.add(base, "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    _max_len(errors, (*base, "title"), embed.get("title"), EMBED_TITLE_MAX)
    _max_len(errors, (*base, "description"), embed.get("description"), EMBED_DESCRIPTION_MAX)
    _url(errors, (*base, "url"), embed.get("url"), attachment_ok=False)
    color = embed.get("color")
    if color is not None and (not isinstance(color, int) or not 0 <= color <= 0xFFFFFF):
        errors.add((*base, "color"), "NUMBER_TYPE_MAX", "int value should be <= 16777215.")
    fields = embed.get("fields") or []
    if len(fields) > EMBED_FIELDS_MAX:
        errors.add((*base, "fields"), "BASE_TYPE_MAX_LENGTH", f"Must be {EMBED_FIELDS_MAX} or fewer in length.")
    for j, f in enumerate(fields):
        _bounded_len(errors, (*base, "fields", j, "name"), f.get("name"), 1, EMBED_FIELD_NAME_MAX)
        _bounded_len(errors, (*base, "fields", j, "value"), f.get("value"), 1, EMBED_FIELD_VALUE_MAX)
    footer = embed.get("footer")
    if footer is not None:
        _bounded_len(errors, (*base, "footer", "text"), footer.get("text"), 1, EMBED_FOOTER_MAX)
        _url(errors, (*base, "footer", "icon_url"), footer.get("icon_url"))
    author = embed.get("author")
    if author is not None:
        _bounded_len(errors, (*base, "author", "name"), author.get("name"), 1, EMBED_AUTHOR_MAX)
        _url(errors, (*base, "author", "url"), author.get("url"), attachment_ok=False)
        _url(errors, (*base, "author", "icon_url"), author.get("icon_url"))
    for key in ("image", "thumbnail"):
        media = embed.get(key)
        if media is not None:
            _url(errors, (*base, key, "url"), media.get("url"))


_SELECT_TYPES = {3, 5, 6, 7, 8}


def _validate_button(errors: FormErrors, path: tuple[str | int, ...], comp: Mapping[str, Any]) -> None:
    style = comp.get("style")
    if style not in (1, 2, 3, 4, 5, 6):
        errors.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4, 5, 6}.")
        return
    _max_len(errors, (*path, "label"), comp.get("label"), BUTTON_LABEL_MAX)
    if style == 5:
        if comp.get("url") is None:
            errors.add((*path, "url"), "BASE_TYPE_REQUIRED", "This field is required")
        else:
            _url(errors, (*path, "url"), comp.get("url"), attachment_ok=False)
        if comp.get("custom_id") is not None:
            errors.add(
                (*path, "custom_id"), "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "A link button cannot have a custom_id."
            )
    elif style != 6:
        _bounded_len(errors, (*path, "custom_id"), comp.get("custom_id"), 1, CUSTOM_ID_MAX)
        if comp.get("label") is None and comp.get("emoji") is None:
            errors.add((*path, "label"), "BASE_TYPE_REQUIRED", "A button needs a label or an emoji.")


def _validate_select(errors: FormErrors, path: tuple[str | int, ...], comp: Mapping[str, Any]) -> None:
    _bounded_len(errors, (*path, "custom_id"), comp.get("custom_id"), 1, CUSTOM_ID_MAX)
    _max_len(errors, (*path, "placeholder"), comp.get("placeholder"), SELECT_PLACEHOLDER_MAX)
    min_v, max_v = comp.get("min_values", 1), comp.get("max_values", 1)
    if not (isinstance(min_v, int) and 0 <= min_v <= 25):
        errors.add((*path, "min_values"), "NUMBER_TYPE_MAX", "int value should be between 0 and 25.")
    if not (isinstance(max_v, int) and 1 <= max_v <= 25):
        errors.add((*path, "max_values"), "NUMBER_TYPE_MAX", "int value should be between 1 and 25.")
    if comp.get("type") != 3:
        return
    options = comp.get("options") or []
    if not 1 <= len(options) <= SELECT_OPTIONS_MAX:
        errors.add((*path, "options"), "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {SELECT_OPTIONS_MAX} in length.")
    values: set[str] = set()
    for k, opt in enumerate(options):
        _bounded_len(errors, (*path, "options", k, "label"), opt.get("label"), 1, SELECT_OPTION_TEXT_MAX)
        _bounded_len(errors, (*path, "options", k, "value"), opt.get("value"), 1, SELECT_OPTION_TEXT_MAX)
        _max_len(errors, (*path, "options", k, "description"), opt.get("description"), SELECT_OPTION_TEXT_MAX)
        value = opt.get("value")
        if isinstance(value, str):
            if value in values:
                errors.add(
                    (*path, "options", k, "value"),
                    "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED",
                    "Select option values must be unique",
                )
            values.add(value)
    if isinstance(max_v, int) and options and max_v > len(options):
        errors.add((*path, "max_values"), "BASE_TYPE_MAX", "max_values cannot exceed the number of options.")


def _validate_components(errors: FormErrors, components: Any, flags: int) -> None:
    if not isinstance(components, list):
        errors.add(("components",), "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if flags & MessageFlags.IS_COMPONENTS_V2:
        # Components v2 (layout) messages: only the top-level count is checked here.
        if len(components) > 40:
            errors.add(("components",), "BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer in length.")
        return
    if len(components) > ACTION_ROWS_MAX:
        errors.add(("components",), "BASE_TYPE_MAX_LENGTH", f"Must be {ACTION_ROWS_MAX} or fewer in length.")
    custom_ids: set[str] = set()
    for i, row in enumerate(components):
        path: tuple[str | int, ...] = ("components", i)
        if not isinstance(row, Mapping) or row.get("type") != 1:
            errors.add((*path, "type"), "UNION_TYPE_CHOICES", "Top-level components must be action rows (type 1).")
            continue
        children = row.get("components") or []
        if not 1 <= len(children) <= ROW_BUTTONS_MAX:
            errors.add(
                (*path, "components"), "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {ROW_BUTTONS_MAX} in length."
            )
        types = [c.get("type") for c in children if isinstance(c, Mapping)]
        if any(t in _SELECT_TYPES for t in types) and len(children) > 1:
            errors.add(
                (*path, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        for j, comp in enumerate(children):
            cpath = (*path, "components", j)
            ctype = comp.get("type") if isinstance(comp, Mapping) else None
            if ctype == 2:
                _validate_button(errors, cpath, comp)
            elif ctype in _SELECT_TYPES:
                _validate_select(errors, cpath, comp)
            else:
                errors.add((*cpath, "type"), "COMPONENT_TYPE_INVALID", f"Component type {ctype} is not valid here.")
                continue
            cid = comp.get("custom_id")
            if isinstance(cid, str):
                if cid in custom_ids:
                    errors.add(
                        (*cpath, "custom_id"),
                        "COMPONENT_CUSTOM_ID_DUPLICATED",
                        "Component custom id cannot be duplicated",
                    )
                custom_ids.add(cid)


def _validate_allowed_mentions(errors: FormErrors, am: Any) -> None:
    if am is None:
        return
    if not isinstance(am, Mapping):
        errors.add(("allowed_mentions",), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
        return
    parse = am.get("parse") or []
    for k, item in enumerate(parse):
        if item not in ("roles", "users", "everyone"):
            errors.add(
                ("allowed_mentions", "parse", k),
                "BASE_TYPE_CHOICES",
                "Value must be one of ('roles', 'users', 'everyone').",
            )
    for kind in ("users", "roles"):
        ids = am.get(kind) or []
        if kind in parse and ids:
            errors.add(
                ("allowed_mentions",),
                "SET_TYPE_ALREADY_CONTAINS_VALUE",
                f'parse:["{kind}"] and {kind}: [ids] are mutually exclusive.',
            )
        if len(ids) > 100:
            errors.add(("allowed_mentions", kind), "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")


def validate_message(body: Mapping[str, Any]) -> FormErrors:
    """Check a create/edit message body (channel message, interaction response data, followup, edit)."""
    errors = FormErrors()
    flags = body.get("flags") or 0
    if not isinstance(flags, int):
        errors.add(("flags",), "NUMBER_TYPE_COERCE", "Value is not int.")
        flags = 0
    content = body.get("content")
    _max_len(errors, ("content",), content, CONTENT_MAX)
    embeds = body.get("embeds")
    if embeds is not None:
        if not isinstance(embeds, list):
            errors.add(("embeds",), "BASE_TYPE_ARRAY", "Must be an array.")
        else:
            if len(embeds) > EMBEDS_MAX:
                errors.add(("embeds",), "BASE_TYPE_MAX_LENGTH", f"Must be {EMBEDS_MAX} or fewer in length.")
            for i, embed in enumerate(embeds):
                _validate_embed(errors, i, embed)
            total = sum(embed_text_length(e) for e in embeds if isinstance(e, Mapping))
            if total > EMBED_TOTAL_MAX:
                errors.add(
                    ("embeds",), "MAX_EMBED_SIZE_EXCEEDED", f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}"
                )
    if flags & MessageFlags.IS_COMPONENTS_V2 and (content or embeds):
        errors.add(
            ("content",),
            "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
            "The 'content' and 'embeds' fields cannot be used when using MessageFlags.IS_COMPONENTS_V2",
        )
    components = body.get("components")
    if components is not None:
        _validate_components(errors, components, flags)
    _validate_allowed_mentions(errors, body.get("allowed_mentions"))
    return errors


def is_empty_message(message: Mapping[str, Any]) -> bool:
    """Discord's 50006: a message needs at least one of content (not just whitespace), embeds, components,
    attachments, sticker_ids or a poll (the "Create Message" reference lists exactly these)."""
    if (message.get("content") or "").strip():
        return False
    keys = ("embeds", "components", "attachments", "sticker_ids", "poll")
    return not any(message.get(key) for key in keys)


def validate_autocomplete(data: Mapping[str, Any] | None) -> FormErrors:
    errors = FormErrors()
    choices = (data or {}).get("choices")
    if choices is None:
        errors.add(("data", "choices"), "BASE_TYPE_REQUIRED", "This field is required")
        return errors
    if len(choices) > AUTOCOMPLETE_CHOICES_MAX:
        errors.add(
            ("data", "choices"), "BASE_TYPE_MAX_LENGTH", f"Must be {AUTOCOMPLETE_CHOICES_MAX} or fewer in length."
        )
    for i, choice in enumerate(choices):
        _bounded_len(errors, ("data", "choices", i, "name"), choice.get("name"), 1, CHOICE_TEXT_MAX)
        value = choice.get("value")
        if isinstance(value, str):
            _max_len(errors, ("data", "choices", i, "value"), value, CHOICE_TEXT_MAX)
        elif not isinstance(value, int | float) or isinstance(value, bool):
            errors.add(("data", "choices", i, "value"), "BASE_TYPE_REQUIRED", "This field is required")
    return errors


def _command_text(cmd: Mapping[str, Any]) -> int:
    total = len(cmd.get("name") or "") + len(cmd.get("description") or "")
    for opt in cmd.get("options") or []:
        total += _command_text(opt)
    for ch in cmd.get("choices") or []:
        total += len(ch.get("name") or "") + len(str(ch.get("value") or ""))
    return total


def _validate_name(errors: FormErrors, path: tuple[str | int, ...], name: Any, *, chat: bool) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        errors.add((*path, "name"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
    elif chat and (not _NAME_RE.match(name) or name != name.lower()):
        errors.add((*path, "name"), "APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}")


def _validate_options(errors: FormErrors, path: tuple[str | int, ...], options: Sequence[Any], depth: int) -> None:
    if len(options) > COMMAND_OPTIONS_MAX:
        errors.add((*path, "options"), "BASE_TYPE_MAX_LENGTH", f"Must be {COMMAND_OPTIONS_MAX} or fewer in length.")
    seen_optional = False
    kinds = set()
    names: set[str] = set()
    for i, opt in enumerate(options):
        opath = (*path, "options", i)
        otype = opt.get("type")
        _validate_name(errors, opath, opt.get("name"), chat=True)
        if opt.get("name") in names:
            errors.add(
                (*opath, "name"), "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique"
            )
        names.add(opt.get("name"))
        _bounded_len(errors, (*opath, "description"), opt.get("description"), 1, 100)
        kinds.add("sub" if otype in (1, 2) else "value")
        if otype == 2:
            if depth > 0:
                errors.add(
                    (*opath, "type"), "APPLICATION_COMMAND_OPTION_TYPE_INVALID", "Subcommand groups cannot nest."
                )
            subs = opt.get("options") or []
            if any(s.get("type") != 1 for s in subs):
                errors.add(
                    (*opath, "options"),
                    "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                    "Subcommand groups may only contain subcommands.",
                )
            _validate_options(errors, opath, subs, depth + 1)
        elif otype == 1:
            _validate_options(errors, opath, opt.get("options") or [], 2)
        elif otype in (3, 4, 5, 6, 7, 8, 9, 10, 11):
            if opt.get("required"):
                if seen_optional:
                    errors.add(
                        (*opath, "required"),
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
            else:
                seen_optional = True
            choices = opt.get("choices") or []
            if len(choices) > 25:
                errors.add((*opath, "choices"), "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            if choices and opt.get("autocomplete"):
                errors.add(
                    (*opath, "autocomplete"),
                    "APPLICATION_COMMAND_OPTION_CHOICES_AUTOCOMPLETE",
                    "Autocomplete and choices are mutually exclusive.",
                )
            for k, ch in enumerate(choices):
                _bounded_len(errors, (*opath, "choices", k, "name"), ch.get("name"), 1, CHOICE_TEXT_MAX)
                if isinstance(ch.get("value"), str):
                    _max_len(errors, (*opath, "choices", k, "value"), ch.get("value"), CHOICE_TEXT_MAX)
            for key in ("min_length", "max_length"):
                v = opt.get(key)
                if v is not None and not (isinstance(v, int) and 0 <= v <= 6000):
                    errors.add((*opath, key), "NUMBER_TYPE_MAX", "int value should be between 0 and 6000.")
        else:
            errors.add((*opath, "type"), "BASE_TYPE_CHOICES", f"Unknown option type {otype!r}.")
    if len(kinds) > 1:
        errors.add(
            (*path, "options"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Subcommands and options cannot be mixed."
        )


def validate_commands(commands: Any) -> FormErrors:
    """Check a bulk-overwrite body (PUT .../commands)."""
    errors = FormErrors()
    if not isinstance(commands, list):
        errors.add((), "BASE_TYPE_ARRAY", "Must be an array.")
        return errors
    seen: set[tuple[int, str]] = set()
    chat_count = 0
    for i, cmd in enumerate(commands):
        path: tuple[str | int, ...] = (i,)
        ctype = cmd.get("type", 1)
        chat = ctype == 1
        chat_count += chat
        _validate_name(errors, path, cmd.get("name"), chat=chat)
        key = (ctype, cmd.get("name"))
        if key in seen:
            errors.add((*path, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", f"Duplicate command name {key[1]!r}")
        seen.add(key)
        if chat:
            _bounded_len(errors, (*path, "description"), cmd.get("description"), 1, 100)
            _validate_options(errors, path, cmd.get("options") or [], 0)
        elif cmd.get("description"):
            errors.add((*path, "description"), "BASE_TYPE_MAX_LENGTH", "Context menu commands have no description.")
        if _command_text(cmd) > COMMAND_TOTAL_TEXT_MAX:
            errors.add(path, "APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (8000)")
        dmp = cmd.get("default_member_permissions")
        if dmp is not None and not str(dmp).isdigit():
            errors.add((*path, "default_member_permissions"), "NUMBER_TYPE_COERCE", "Value is not a snowflake.")
    if chat_count > COMMANDS_MAX:
        errors.add((), "BASE_TYPE_MAX_LENGTH", f"Must be {COMMANDS_MAX} or fewer in length.")
    return errors
