"""Builders for real INTERACTION_CREATE payloads, typed from the command tree the bot actually synced.

``fake.build.chat_input("paper digest subscribe", channel=GENERAL_CHANNEL_ID, top_n=5)`` looks the command up
in what the bot PUT to ``/applications/{app}/…/commands`` (guild scope first, then global, as Discord resolves
them), nests subcommand groups/subcommands, converts every option to the synced option type (string, integer,
number, boolean, user, channel, role, mentionable) and adds ``resolved`` data for users/members, channels (with
the invoker's ``permissions``) and roles. It refuses what a Discord client would never send — an unknown
command or option, a missing required option, a value outside ``choices``/``min_*``/``max_*``/``channel_types``,
a string over 6000 characters, pressing a disabled or link button, picking a select value that isn't offered
— raising ``ValueError``/``LookupError`` so a test can't silently exercise an impossible interaction.

Every payload carries ``member`` (with ``permissions`` computed from the guild's roles and the channel's
overwrites), ``app_permissions`` (the bot's, same algorithm), ``guild_id``, ``channel_id``/``channel``,
``locale``/``guild_locale``, a fresh id and token. Component payloads embed the full message the component is
on, exactly as stored by the fake (so the message id routes back to the bot's ``View``).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .messages import StoredMessage
from .world import MEMBER_USER_ID, Channel, Guild, Member, Role, User

if TYPE_CHECKING:
    from .server import FakeDiscord

__all__ = ["OptionType", "PayloadBuilder"]

_MAX_STRING_OPTION = 6000


class OptionType:
    SUB_COMMAND = 1
    SUB_COMMAND_GROUP = 2
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    USER = 6
    CHANNEL = 7
    ROLE = 8
    MENTIONABLE = 9
    NUMBER = 10
    ATTACHMENT = 11


def _id_of(value: Any) -> int:
    if isinstance(value, Member | User | Role | Channel | Guild):
        return value.id
    if isinstance(value, StoredMessage):
        return value.id
    return int(value)


class PayloadBuilder:
    """``fake.build``: makes interaction payloads; ``fake.slash()`` & co. build *and* dispatch them."""

    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    # -- context -------------------------------------------------------------------------------------------
    def _context(
        self, guild_id: int | None, channel_id: int | None, user_id: int | None
    ) -> tuple[Guild, Channel, Member]:
        fake = self.fake
        guild: Guild | None
        if guild_id is None and channel_id is not None:
            found = fake.find_channel(channel_id)
            if found is None:
                raise LookupError(f"no configured channel {channel_id}")
            guild = found[0]
        else:
            guild = fake.guild(guild_id) if guild_id is not None else (fake.guilds[0] if fake.guilds else None)
        if guild is None:
            raise LookupError(f"no configured guild {guild_id}")
        if channel_id is None:
            channel = next((c for c in guild.channels if c.is_text), None)
        else:
            channel = guild.channel(channel_id)
        if channel is None:
            raise LookupError(f"guild {guild.id} has no channel {channel_id}")
        if user_id is None:
            member = guild.member(MEMBER_USER_ID) or next((m for m in guild.members if not m.user.bot), None)
        else:
            member = guild.member(user_id)
        if member is None:
            raise LookupError(f"guild {guild.id} has no member {user_id}")
        return guild, channel, member

    def base(
        self,
        interaction_type: int,
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user_id: int | None = None,
        locale: str = "en-US",
        guild_locale: str | None = None,
    ) -> dict[str, Any]:
        """The fields every guild interaction carries (no ``data``)."""
        fake = self.fake
        guild, channel, member = self._context(guild_id, channel_id, user_id)
        perms = guild.permissions_for(member, channel)
        channel_data = channel.to_dict(guild.id)
        channel_data["permissions"] = str(perms)
        return {
            "id": str(fake.snowflake()),
            "application_id": str(fake.app_id),
            "type": interaction_type,
            "token": fake.new_interaction_token(),
            "version": 1,
            "guild_id": str(guild.id),
            "guild": {"id": str(guild.id), "locale": guild.locale, "features": []},
            "channel_id": str(channel.id),
            "channel": channel_data,
            "member": member.to_dict(permissions=perms),
            "locale": locale,
            "guild_locale": guild_locale or guild.locale,
            "app_permissions": str(fake.bot_permissions(guild, channel)),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "authorizing_integration_owners": {"0": str(guild.id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }

    # -- application commands ------------------------------------------------------------------------------
    def find_command(self, name: str, guild_id: int, *, command_type: int = 1) -> dict[str, Any]:
        for scope in (guild_id, None):
            for cmd in self.fake.commands.get(scope, []):
                if cmd["name"] == name and cmd.get("type", 1) == command_type:
                    return cmd
        synced = {str(s): [c["name"] for c in cmds] for s, cmds in self.fake.commands.items()}
        raise LookupError(f"command {name!r} was not synced for guild {guild_id} (synced: {synced})")

    def chat_input(
        self,
        command: str,
        *,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user_id: int | None = None,
        locale: str = "en-US",
        guild_locale: str | None = None,
        focused: str | None = None,
        options: Mapping[str, Any] | None = None,
        **kw_options: Any,
    ) -> dict[str, Any]:
        """A slash command: ``command`` is the full path ("paper search"); options by name (kwargs or ``options``).

        With ``focused`` (an option name) this is an autocomplete payload (type 4): the focused option is sent
        as the raw text typed so far, unvalidated, as Discord does.
        """
        payload = self.base(
            4 if focused else 2,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user_id,
            locale=locale,
            guild_locale=guild_locale,
        )
        guild = self.fake.guild(int(payload["guild_id"]))
        assert guild is not None
        member = guild.member(int(payload["member"]["user"]["id"]))
        assert member is not None
        values = dict(options or {}) | kw_options
        path = command.split()
        root = self.find_command(path[0], guild.id)
        data: dict[str, Any] = {"id": root["id"], "name": root["name"], "type": 1}
        if root.get("guild_id"):
            data["guild_id"] = root["guild_id"]
        resolved: dict[str, dict[str, Any]] = {}
        schema = root.get("options") or []
        container = data
        for sub in path[1:]:
            node = next((o for o in schema if o["name"] == sub and o["type"] in (1, 2)), None)
            if node is None:
                names = [o["name"] for o in schema if o["type"] in (1, 2)]
                raise LookupError(f"{command!r}: no subcommand {sub!r} (has {names})")
            child: dict[str, Any] = {"name": sub, "type": node["type"]}
            container.setdefault("options", []).append(child)
            container = child
            schema = node.get("options") or []
        if any(o["type"] in (1, 2) for o in schema):
            raise ValueError(f"{command!r} is a group; name a subcommand")
        if focused is not None and focused not in values:
            values[focused] = ""
        opts = self._leaf_options(command, schema, values, guild, member, resolved, focused)
        container["options"] = opts
        if resolved:
            data["resolved"] = resolved
        payload["data"] = data
        return payload

    def _leaf_options(
        self,
        command: str,
        schema: list[dict[str, Any]],
        values: dict[str, Any],
        guild: Guild,
        member: Member,
        resolved: dict[str, dict[str, Any]],
        focused: str | None,
    ) -> list[dict[str, Any]]:
        by_name = {o["name"]: o for o in schema}
        unknown = set(values) - set(by_name)
        if unknown:
            raise LookupError(f"{command!r} has no option(s) {sorted(unknown)} (has {list(by_name)})")
        missing = [o["name"] for o in schema if o.get("required") and o["name"] not in values]
        if missing and focused is None:
            raise ValueError(f"{command!r}: required option(s) missing: {missing}")
        out = []
        for opt in schema:  # Discord sends options in declaration order
            name = opt["name"]
            if name not in values:
                continue
            if name == focused:
                if not opt.get("autocomplete"):
                    raise ValueError(f"{command!r}: option {name!r} has no autocomplete")
                out.append({"name": name, "type": opt["type"], "value": str(values[name]), "focused": True})
                continue
            value = self._convert(command, opt, values[name], guild, member, resolved)
            out.append({"name": name, "type": opt["type"], "value": value})
        return out

    def _convert(
        self,
        command: str,
        opt: dict[str, Any],
        value: Any,
        guild: Guild,
        member: Member,
        resolved: dict[str, dict[str, Any]],
    ) -> Any:
        name, otype = opt["name"], opt["type"]
        where = f"{command!r} option {name!r}"
        if otype == OptionType.STRING:
            if not isinstance(value, str):
                raise ValueError(f"{where}: expected a string, got {value!r}")
            limit = min(opt.get("max_length", _MAX_STRING_OPTION), _MAX_STRING_OPTION)
            if len(value) > limit:
                raise ValueError(f"{where}: {len(value)} characters; Discord clients send at most {limit}")
            if len(value) < opt.get("min_length", 0):
                raise ValueError(f"{where}: shorter than min_length {opt['min_length']}")
        elif otype in (OptionType.INTEGER, OptionType.NUMBER):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{where}: expected a number, got {value!r}")
            if otype == OptionType.INTEGER and not float(value).is_integer():
                raise ValueError(f"{where}: expected an integer, got {value!r}")
            value = int(value) if otype == OptionType.INTEGER else float(value)
            if "min_value" in opt and value < opt["min_value"]:
                raise ValueError(f"{where}: {value} < min_value {opt['min_value']}")
            if "max_value" in opt and value > opt["max_value"]:
                raise ValueError(f"{where}: {value} > max_value {opt['max_value']}")
        elif otype == OptionType.BOOLEAN:
            if not isinstance(value, bool):
                raise ValueError(f"{where}: expected a bool, got {value!r}")
        elif otype == OptionType.CHANNEL:
            channel = guild.channel(_id_of(value))
            if channel is None:
                raise LookupError(
                    f"{where}: guild {guild.id} has no channel {value!r} (a Discord client can only pick existing"
                    " channels; use a string option to accept raw ids)"
                )
            allowed = opt.get("channel_types")
            if allowed and channel.type not in allowed:
                raise ValueError(f"{where}: channel type {channel.type} not in channel_types {allowed}")
            data = channel.to_dict(guild.id)
            data["permissions"] = str(guild.permissions_for(member, channel))
            resolved.setdefault("channels", {})[str(channel.id)] = data
            return str(channel.id)
        elif otype in (OptionType.USER, OptionType.MENTIONABLE) and guild.member(_id_of(value)) is not None:
            target = guild.member(_id_of(value))
            assert target is not None
            resolved.setdefault("users", {})[str(target.id)] = target.user.to_dict()
            resolved.setdefault("members", {})[str(target.id)] = target.to_dict(
                permissions=guild.permissions_for(target), with_user=False
            )
            return str(target.id)
        elif otype in (OptionType.ROLE, OptionType.MENTIONABLE):
            role = guild.role(_id_of(value))
            if role is None:
                raise LookupError(f"{where}: guild {guild.id} has no role/member {value!r}")
            resolved.setdefault("roles", {})[str(role.id)] = role.to_dict()
            return str(role.id)
        elif otype == OptionType.USER:
            raise LookupError(f"{where}: guild {guild.id} has no member {value!r}")
        else:
            raise NotImplementedError(f"{where}: option type {otype} is not supported by the fake's builder")
        choices = opt.get("choices")
        if choices and value not in [c["value"] for c in choices]:
            raise ValueError(f"{where}: {value!r} is not one of the choices {[c['value'] for c in choices]}")
        return value

    def autocomplete(self, command: str, focused: str, **kwargs: Any) -> dict[str, Any]:
        """An autocomplete payload (type 4): ``focused`` names the option being typed; its value is the text."""
        return self.chat_input(command, focused=focused, **kwargs)

    # -- components ----------------------------------------------------------------------------------------
    def _component_base(
        self, message: StoredMessage | int, user_id: int | None, locale: str
    ) -> tuple[dict[str, Any], StoredMessage]:
        msg = message if isinstance(message, StoredMessage) else self.fake.message(_id_of(message))
        msg = self.fake.message(msg.id)  # the current stored state, not a stale copy
        if msg.deleted:
            raise ValueError(f"message {msg.id} was deleted; nobody can press its components")
        if user_id is None and msg.interaction_metadata:
            user_id = int(msg.interaction_metadata["user"]["id"])
        payload = self.base(3, channel_id=msg.channel_id, user_id=user_id, locale=locale)
        payload["message"] = msg.to_dict()
        return payload, msg

    def button(
        self,
        message: StoredMessage | int,
        custom_id: str | None = None,
        *,
        label: str | None = None,
        user_id: int | None = None,
        locale: str = "en-US",
        force: bool = False,
    ) -> dict[str, Any]:
        """A button press on a stored message, by ``custom_id`` or ``label``.

        ``user_id`` defaults to the user who invoked the interaction the message answers (else the default
        member). Disabled and link buttons raise unless ``force`` (a client cannot press them).
        """
        payload, msg = self._component_base(message, user_id, locale)
        if custom_id is not None:
            comp = msg.component(custom_id)
        elif label is not None:
            comp = msg.find_button(label)
        else:
            raise ValueError("pass custom_id or label")
        if comp.get("type") != 2:
            raise ValueError(f"component {comp.get('custom_id')!r} is not a button")
        if not force and comp.get("style") == 5:
            raise ValueError("link buttons open a URL; they never create an interaction")
        if not force and comp.get("disabled"):
            raise ValueError(f"button {comp.get('custom_id')!r} is disabled; a Discord client can't press it")
        payload["data"] = {"custom_id": comp["custom_id"], "component_type": 2}
        return payload

    def select(
        self,
        message: StoredMessage | int,
        custom_id: str | None = None,
        values: list[str] | None = None,
        *,
        user_id: int | None = None,
        locale: str = "en-US",
        force: bool = False,
    ) -> dict[str, Any]:
        """A string-select choice on a stored message (``custom_id`` may be omitted if there is one select)."""
        payload, msg = self._component_base(message, user_id, locale)
        if custom_id is None:
            selects = msg.selects
            if len(selects) != 1:
                raise ValueError(f"message {msg.id} has {len(selects)} selects; pass custom_id")
            comp = selects[0]
        else:
            comp = msg.component(custom_id)
        if comp.get("type") == 2:
            raise ValueError(f"component {comp.get('custom_id')!r} is a button, not a select")
        values = list(values or [])
        if not force:
            if comp.get("disabled"):
                raise ValueError(f"select {comp.get('custom_id')!r} is disabled")
            low, high = comp.get("min_values", 1), comp.get("max_values", 1)
            if not low <= len(values) <= high:
                raise ValueError(f"{len(values)} values picked; the select allows {low}..{high}")
            if comp.get("type") == 3:
                offered = [o["value"] for o in comp.get("options") or []]
                bad = [v for v in values if v not in offered]
                if bad:
                    raise ValueError(f"values {bad} are not offered by select {comp.get('custom_id')!r}: {offered}")
        payload["data"] = {"custom_id": comp["custom_id"], "component_type": comp["type"], "values": values}
        return payload

    def modal_submit(
        self,
        custom_id: str,
        fields: Mapping[str, str],
        *,
        message: StoredMessage | int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        user_id: int | None = None,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """A modal submission (type 5) with text-input values by custom_id."""
        if message is not None:
            payload, _ = self._component_base(message, user_id, locale)
            payload["type"] = 5
        else:
            payload = self.base(5, guild_id=guild_id, channel_id=channel_id, user_id=user_id, locale=locale)
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]} for key, value in fields.items()
        ]
        payload["data"] = {"custom_id": custom_id, "components": copy.deepcopy(rows)}
        return payload
