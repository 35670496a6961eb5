"""Discord-style API errors raised inside the fake and turned into JSON responses.

Discord answers every rejected request with a JSON body ``{"code", "message", "errors"?}`` and an HTTP
status; discord.py reads ``code``/``message`` (and flattens ``errors``) into ``HTTPException``. Keeping the
exact shape here means the bot's error handling is exercised the same way it is against the real API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["DiscordError", "FormErrors"]


class FormErrors:
    """Collects field errors in Discord's nested ``errors`` format.

    ``add(("embeds", 0, "title"), "BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length.")`` produces
    ``{"embeds": {"0": {"title": {"_errors": [{"code": ..., "message": ...}]}}}}``.
    """

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}
        self.flat: list[tuple[str, str, str]] = []

    def __bool__(self) -> bool:
        return bool(self.flat)

    def add(self, path: tuple[str | int, ...], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
        self.flat.append((".".join(str(p) for p in path), code, message))

    def codes(self) -> list[str]:
        return [code for _, code, _ in self.flat]

    def paths(self) -> list[str]:
        return [path for path, _, _ in self.flat]


class DiscordError(Exception):
    """A rejection the fake sends back as Discord would: HTTP status plus JSON error body."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: FormErrors | None = None,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors.tree
        body.update(self.extra)
        return body

    # Factories for the errors the fake produces; names follow Discord's JSON error code table.
    @classmethod
    def invalid_form_body(cls, errors: FormErrors) -> DiscordError:
        return cls(400, 50035, "Invalid Form Body", errors=errors)

    @classmethod
    def empty_message(cls) -> DiscordError:
        return cls(400, 50006, "Cannot send an empty message")

    @classmethod
    def already_acknowledged(cls) -> DiscordError:
        return cls(400, 40060, "Interaction has already been acknowledged.")

    @classmethod
    def unknown_interaction(cls) -> DiscordError:
        return cls(404, 10062, "Unknown interaction")

    @classmethod
    def unknown_channel(cls) -> DiscordError:
        return cls(404, 10003, "Unknown Channel")

    @classmethod
    def unknown_guild(cls) -> DiscordError:
        return cls(404, 10004, "Unknown Guild")

    @classmethod
    def unknown_message(cls) -> DiscordError:
        return cls(404, 10008, "Unknown Message")

    @classmethod
    def unknown_webhook(cls) -> DiscordError:
        return cls(404, 10015, "Unknown Webhook")

    @classmethod
    def unknown_member(cls) -> DiscordError:
        return cls(404, 10007, "Unknown Member")

    @classmethod
    def unknown_application(cls) -> DiscordError:
        return cls(404, 10002, "Unknown Application")

    @classmethod
    def invalid_webhook_token(cls) -> DiscordError:
        return cls(401, 50027, "Invalid Webhook Token")

    @classmethod
    def missing_access(cls) -> DiscordError:
        return cls(403, 50001, "Missing Access")

    @classmethod
    def missing_permissions(cls) -> DiscordError:
        return cls(403, 50013, "Missing Permissions")

    @classmethod
    def cannot_edit_other_user(cls) -> DiscordError:
        return cls(403, 50005, "Cannot edit a message authored by another user")

    @classmethod
    def unauthorized(cls) -> DiscordError:
        return cls(401, 0, "401: Unauthorized")

    @classmethod
    def not_found(cls) -> DiscordError:
        return cls(404, 0, "404: Not Found")

    @classmethod
    def method_not_allowed(cls) -> DiscordError:
        return cls(405, 0, "405: Method Not Allowed")

    @classmethod
    def bad_request(cls, message: str = "400: Bad Request") -> DiscordError:
        return cls(400, 0, message)
