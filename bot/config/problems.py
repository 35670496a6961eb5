"""pydantic's validation errors as one line each: '<file or variable>: <key path>: <expected>, got <value>'.

pydantic reports where in the merged data a value failed (`digest.channels[1].timezone`) but not which
source it came from, and its messages are written for programmers ("Input should be a valid integer, unable
to parse string as an integer"). This module adds the origin, says what was expected in the words of the
config file, suggests the closest key for an unknown one, and never echoes a secret: neither the value of a
secret key (or a table holding one) nor a secret pasted into another key.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from pydantic import BaseModel, ValidationError

from bot.config.values import REDACTED

__all__ = ["SECRET_KEYS", "describe_errors", "dotted", "mask", "unknown_key"]

Loc = tuple[str | int, ...]
SECRET_KEYS: Final[tuple[Loc, ...]] = (("discord", "token"), ("database", "url"))

_EXPECTED: Final[dict[str, str]] = {
    "int_parsing": "expected an integer",
    "int_type": "expected an integer",
    "int_from_float": "expected a whole number",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "finite_number": "expected a finite number",
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "list_type": "expected a list",
    "model_type": "expected a table",
    "model_attributes_type": "expected a table",
    "dict_type": "expected a table",
    "path_type": "expected a file path",
    "missing": "required key is missing",
}

# Keys whose range reads better in words than as "expected a number ≥ 1".
_RANGES: Final[dict[str, str]] = {
    "top_n": "expected an integer from 1 to 25",
    "min_upvotes": "expected an integer ≥ 0",
    "grace_hours": "expected a number of hours from 0 to 24",
    "min_interval_s": "expected a number of seconds from 0 to 600",
    "member_window_s": "expected a number of seconds > 0",
    "update_after_hours": "expected a number of hours ≥ 0",
}


def describe_errors(
    exc: ValidationError, model: type[BaseModel], origin: Callable[[Loc], str], secrets: Iterable[str]
) -> list[str]:
    """One line per error; `origin(loc)` names the file or variable a value came from."""
    lines = [_describe(error, model, origin) for error in exc.errors(include_url=False)]
    return mask(lines, secrets)


def mask(lines: list[str], secrets: Iterable[str]) -> list[str]:
    """Replace every secret (say, the token pasted into the wrong key) with `**********`."""
    found = sorted({s.strip() for s in secrets if len(s.strip()) >= 4}, key=len, reverse=True)
    for secret in found:
        lines = [line.replace(secret, REDACTED) for line in lines]
    return lines


def dotted(loc: Sequence[str | int]) -> str:
    """('digest', 'channels', 1, 'timezone') → 'digest.channels[1].timezone'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + part
    return out


def unknown_key(where: str, loc: Loc, choices: Iterable[str]) -> str:
    """'<where>: <key>: unknown key (expected one of: ...); did you mean "..."?'."""
    names = sorted(choices)
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    hint = f'; did you mean "{close[0]}"?' if close else ""
    return f"{where}: {dotted(loc)}: unknown key (expected one of: {', '.join(names)}){hint}"


def _describe(error: Mapping[str, Any], model: type[BaseModel], origin: Callable[[Loc], str]) -> str:
    loc: Loc = tuple(error["loc"])
    where = origin(loc)
    if error["type"] == "extra_forbidden":
        owner = _model_at(model, loc)
        return unknown_key(where, loc, owner.model_fields if owner is not None else ())
    text = f"{where}: {dotted(loc)}: {_expected_text(error)}"
    # Neither a secret nor a table that holds one is ever echoed.
    secret = any(loc[: len(key)] == key or key[: len(loc)] == loc for key in SECRET_KEYS)
    if error["type"] != "missing" and not secret:
        text += f", got {_show(error.get('input'))}"
    return text


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class inside `X`, `X | None`, `list[X]` or `Annotated[...]`, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Annotated, list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _model_at(model: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that owns the key at `loc` (list indexes are skipped)."""
    current: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if current is not None else None
        current = _model_in(field.annotation) if field is not None else None
    return current


def _show(value: Any) -> str:
    """One-line, length-capped rendering of a bad value (TOML-ish: strings quoted)."""
    if isinstance(value, dt.time | dt.date):
        text = value.isoformat()
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _expected_text(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return _range_text(error)
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '')}".replace("'", '"')
    return "expected " + str(error["msg"]).lower()


def _range_text(error: Mapping[str, Any]) -> str:
    name = error["loc"][-1]
    if name in _RANGES:
        return _RANGES[name]
    ctx = error.get("ctx") or {}
    symbols = {"greater_than_equal": "≥", "greater_than": ">", "less_than_equal": "≤", "less_than": "<"}
    bound = next(iter(ctx.values()), "")
    return f"expected a number {symbols[error['type']]} {_num(bound)}"


def _num(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
