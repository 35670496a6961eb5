"""REST routes of the fake (everything below ``/api/v10``), each rejecting what Discord rejects.

Handlers raise :class:`DiscordError` for Discord's error answers; the pipeline in :mod:`.pipeline` records and
serialises them. Each handler's docstring gives its order of checks; the main ones:

- channel posts (guild channels, threads and DMs): unknown channel (10003) → not a text channel (50008) → no
  VIEW_CHANNEL (50001) → body limits and nonce (50035) → missing SEND_MESSAGES / SEND_MESSAGES_IN_THREADS,
  EMBED_LINKS, ATTACH_FILES (50013) → DM refused (50007) → archived thread (50083) → empty (50006);
- interaction callbacks: unknown id/token (10062) → already acknowledged (40060) → deadline passed (10062,
  ``fake.interaction_timeout`` on ``fake.clock``) → response type not valid for the interaction (50035) →
  body limits (50035) → empty (50006).

Strictness notes: Discord may display a bot's embed without EMBED_LINKS as nothing rather than refuse it; the
fake refuses (50013) so a missing permission is caught. Webhook-token routes answer 10015 before the
interaction is acknowledged and 50027 once the 15-minute token lifetime has passed.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

from aiohttp import web

from .errors import DiscordError, FormErrors
from .limits import MessageFlags, is_empty_message, validate_autocomplete, validate_commands, validate_message
from .messages import HAS_THREAD, StoredMessage
from .nonces import nonce_error
from .permissions import P, has
from .pipeline import BODY_KEY, FILES_KEY, RECORD_KEY
from .records import InteractionRecord, InteractionResponse, RecordedRequest
from .server import FakeDiscord
from .world import Channel, ChannelType, Guild

__all__ = ["register_routes"]

_APPLICATION_COMMAND, _COMPONENT, _AUTOCOMPLETE, _MODAL_SUBMIT = 2, 3, 4, 5
#: initial response types Discord accepts per interaction type
_ALLOWED_RESPONSES = {
    _APPLICATION_COMMAND: {4, 5, 9},
    _COMPONENT: {4, 5, 6, 7, 9},
    _AUTOCOMPLETE: {8},
    _MODAL_SUBMIT: {4, 5, 6, 7},
}


def _ok(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(data, ensure_ascii=False).encode(), status=status, headers={"Content-Type": "application/json"}
    )


def _no_content() -> web.Response:
    return web.Response(status=204)


def _snowflake_arg(request: web.Request, name: str, error: DiscordError) -> int:
    raw = request.match_info[name]
    if not raw.isdigit():
        raise error
    return int(raw)


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def _now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


_ARCHIVE_DURATIONS = (60, 1440, 4320, 10080)


def _thread_body_errors(body: dict[str, Any]) -> FormErrors:
    errors = FormErrors()
    name = body.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 100:
        errors.add(("name",), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    archive = body.get("auto_archive_duration")
    if archive is not None and archive not in _ARCHIVE_DURATIONS:
        errors.add(("auto_archive_duration",), "BASE_TYPE_CHOICES", f"Value must be one of {_ARCHIVE_DURATIONS}.")
    slowmode = body.get("rate_limit_per_user")
    if slowmode is not None and (not isinstance(slowmode, int) or not 0 <= slowmode <= 21600):
        errors.add(("rate_limit_per_user",), "NUMBER_TYPE_MAX", "int value should be between 0 and 21600.")
    return errors


class RestApi:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake

    # -- helpers -------------------------------------------------------------------------------------------
    def _channel(self, request: web.Request) -> tuple[Guild | None, Channel]:
        """The addressed channel: a guild channel or thread (with its guild), or a DM channel (guild None)."""
        cid = _snowflake_arg(request, "channel_id", DiscordError.unknown_channel())
        found = self.fake.lookup_channel(cid)
        if found is None:
            raise DiscordError.unknown_channel()
        return found

    @staticmethod
    def _record(request: web.Request) -> RecordedRequest:
        rec: RecordedRequest = request[RECORD_KEY]
        return rec

    def _visible_channel(self, request: web.Request) -> tuple[Guild | None, Channel, int]:
        guild, channel = self._channel(request)
        perms = self.fake.bot_permissions(guild, channel)
        if not has(perms, P.VIEW_CHANNEL):
            raise DiscordError.missing_access()
        return guild, channel, perms

    def _guild(self, request: web.Request) -> Guild:
        gid = _snowflake_arg(request, "guild_id", DiscordError.unknown_guild())
        guild = self.fake.guild(gid)
        if guild is None:
            raise DiscordError.unknown_guild()
        return guild

    def _check_app(self, request: web.Request) -> None:
        if request.match_info["application_id"] != str(self.fake.app_id):
            raise DiscordError.missing_access()

    @staticmethod
    def _body(request: web.Request) -> dict[str, Any]:
        body = request.get(BODY_KEY)
        if body is None:
            return {}
        if not isinstance(body, dict):
            errors = FormErrors()
            errors.add((), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            raise DiscordError.invalid_form_body(errors)
        return body

    @staticmethod
    def _validate(body: dict[str, Any]) -> None:
        errors = validate_message(body)
        if errors:
            raise DiscordError.invalid_form_body(errors)

    def _attachments(self, request: web.Request, body: dict[str, Any]) -> list[dict[str, Any]]:
        files = request.get(FILES_KEY) or []
        out = []
        for i, f in enumerate(files):
            aid = self.fake.snowflake()
            out.append(
                {
                    "id": str(aid),
                    "filename": f.get("filename") or f"file{i}",
                    "size": f["size"],
                    "url": f"{self.fake.base_url}/attachments/{aid}/{f.get('filename')}",
                    "proxy_url": f"{self.fake.base_url}/attachments/{aid}/{f.get('filename')}",
                    "content_type": "application/octet-stream",
                }
            )
        return out

    @staticmethod
    def _preview_empty(msg: StoredMessage, body: dict[str, Any]) -> bool:
        preview = copy.deepcopy(msg)
        preview.apply(body, create=False)
        return is_empty_message(preview.to_dict())

    def _edit(self, msg: StoredMessage, body: dict[str, Any], *, via: str = "interaction") -> StoredMessage:
        """Every edit — channel PATCH, webhook-token PATCH, a followup replacing "thinking…" — passes the same
        body limits as a create (50035) and may not leave the message empty (50006); it is then recorded."""
        self._validate(body)
        if self._preview_empty(msg, body):
            raise DiscordError.empty_message()
        return self.fake.edit_message(msg, body, via=via)

    # -- users, application, gateway -----------------------------------------------------------------------
    async def get_me(self, request: web.Request) -> web.Response:
        user = self.fake.bot_user.to_dict()
        user.update(bot=True, verified=True, mfa_enabled=False, email=None, locale="en-US")
        return _ok(user)

    async def get_user(self, request: web.Request) -> web.Response:
        uid = _snowflake_arg(request, "user_id", DiscordError(404, 10013, "Unknown User"))
        for guild in self.fake.guilds:
            member = guild.member(uid)
            if member is not None:
                return _ok(member.user.to_dict())
        raise DiscordError(404, 10013, "Unknown User")

    async def get_application(self, request: web.Request) -> web.Response:
        return _ok(self.fake.application_object())

    async def get_gateway(self, request: web.Request) -> web.Response:
        return _ok({"url": self.fake.gateway.url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        """The gateway URL, the recommended shard count (``FakeDiscord(shard_count=…)``) and the session start
        limit (IDENTIFYs left, and how many shards may IDENTIFY at once)."""
        fake = self.fake
        return _ok(
            {
                "url": fake.gateway.url,
                "shards": fake.shard_count,
                "session_start_limit": fake.session_start_limit.to_dict(),
            }
        )

    async def create_dm(self, request: web.Request) -> web.Response:
        """``POST /users/@me/channels {recipient_id}``: the DM channel with that user (the same one each time).

        Opening succeeds for any known user, DMs closed or not; sending there is what fails (50007).
        """
        body = self._body(request)
        raw = body.get("recipient_id")
        user = self.fake.dms.find_user(int(raw)) if isinstance(raw, int | str) and str(raw).isdigit() else None
        if user is None:
            raise DiscordError(400, 50033, "Invalid Recipient(s)")
        return _ok(self.fake.channel_payload(None, self.fake.dms.open_channel(user)))

    # -- application commands ------------------------------------------------------------------------------
    def _scope(self, request: web.Request) -> int | None:
        self._check_app(request)
        if "guild_id" not in request.match_info:
            return None
        gid = request.match_info["guild_id"]
        if not gid.isdigit() or self.fake.guild(int(gid)) is None:
            raise DiscordError.missing_access()
        return int(gid)

    async def get_commands(self, request: web.Request) -> web.Response:
        return _ok(self.fake.commands.get(self._scope(request), []))

    async def get_command(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        for cmd in self.fake.commands.get(scope, []):
            if cmd["id"] == request.match_info["command_id"]:
                return _ok(cmd)
        raise DiscordError(404, 10063, "Unknown application command")

    async def put_commands(self, request: web.Request) -> web.Response:
        scope = self._scope(request)
        body = request.get(BODY_KEY)
        errors = validate_commands(body)
        if errors:
            raise DiscordError.invalid_form_body(errors)
        assert isinstance(body, list)
        stored = [self._store_command(scope, cmd) for cmd in body]
        self.fake.commands[scope] = stored
        self.fake.command_syncs.append((scope, copy.deepcopy(stored)))
        return _ok(stored)

    def _store_command(self, scope: int | None, cmd: dict[str, Any]) -> dict[str, Any]:
        ctype = int(cmd.get("type", 1))
        key = (scope, ctype, cmd["name"])
        cid = self.fake._command_ids.get(key)
        if cid is None:
            cid = self.fake._command_ids[key] = self.fake.snowflake()
        dmp = cmd.get("default_member_permissions")
        out: dict[str, Any] = {
            "id": str(cid),
            "application_id": str(self.fake.app_id),
            "version": str(self.fake.snowflake()),
            "type": ctype,
            "name": cmd["name"],
            "name_localizations": cmd.get("name_localizations"),
            "description": cmd.get("description", ""),
            "description_localizations": cmd.get("description_localizations"),
            # Discord accepts an integer or a string and always answers with a string (or null).
            "default_member_permissions": None if dmp is None else str(dmp),
            "dm_permission": cmd.get("dm_permission", True),
            "contexts": cmd.get("contexts"),
            "integration_types": cmd.get("integration_types", [0]),
            "nsfw": bool(cmd.get("nsfw", False)),
        }
        if cmd.get("options"):
            out["options"] = copy.deepcopy(cmd["options"])
        if scope is not None:
            out["guild_id"] = str(scope)
        return out

    # -- interactions: callback ----------------------------------------------------------------------------
    async def interaction_callback(self, request: web.Request) -> web.Response:
        fake = self.fake
        iid = request.match_info["interaction_id"]
        rec = fake.interactions.get(int(iid)) if iid.isdigit() else None
        if rec is None or rec.token != request.match_info["token"]:
            raise DiscordError.unknown_interaction()
        if rec.acknowledged:
            raise DiscordError.already_acknowledged()
        now = fake.clock()
        dispatched = rec.dispatched_at if rec.dispatched_at is not None else now
        if now - dispatched > fake.interaction_timeout:
            rec.expired = True
            raise DiscordError.unknown_interaction()
        body = self._body(request)
        rtype = body.get("type")
        data = body.get("data")
        if rtype not in _ALLOWED_RESPONSES.get(rec.type, set()):
            errors = FormErrors()
            errors.add(
                ("type",),
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"Response type {rtype!r} is not valid for interaction type {rec.type}.",
            )
            raise DiscordError.invalid_form_body(errors)
        if data is not None and not isinstance(data, dict):
            errors = FormErrors()
            errors.add(("data",), "DICT_TYPE_CONVERT", "Only dictionaries may be used in a DictType")
            raise DiscordError.invalid_form_body(errors)

        message: StoredMessage | None = None
        if rtype == 4:
            data = data or {}
            self._validate(data)
            attachments = self._attachments(request, data)
            if is_empty_message({**data, "attachments": attachments}):
                raise DiscordError.empty_message()
            message = self._interaction_message(rec, data, attachments)
            rec.original = message
        elif rtype == 5:
            flags = int((data or {}).get("flags") or 0) & MessageFlags.EPHEMERAL
            message = self._interaction_message(rec, {"content": "", "flags": flags}, [], loading=True)
            rec.original = message
        elif rtype == 7:
            target = fake.messages_by_id.get(rec.component_message_id or 0)
            if target is None:
                raise DiscordError.unknown_message()
            message = self._edit(target, data or {})
        elif rtype == 8:
            errors = validate_autocomplete(data)
            if errors:
                raise DiscordError.invalid_form_body(errors)
        elif rtype == 9:
            self._validate_modal(data or {})
        elif rtype == 6:
            message = fake.messages_by_id.get(rec.component_message_id or 0)

        rec.response = InteractionResponse(type=rtype, data=copy.deepcopy(data), at=now, latency=now - dispatched)
        fake._changed()
        if not _truthy(request.query.get("with_response")):
            return _no_content()
        interaction: dict[str, Any] = {"id": str(rec.id), "type": rec.type}
        result: dict[str, Any] = {"interaction": interaction}
        if message is not None and rtype in (4, 5, 7):
            interaction.update(
                response_message_id=str(message.id),
                response_message_loading=message.loading,
                response_message_ephemeral=message.ephemeral,
            )
            result["resource"] = {"type": rtype, "message": message.to_dict()}
        return _ok(result)

    @staticmethod
    def _validate_modal(data: dict[str, Any]) -> None:
        errors = FormErrors()
        cid, title = data.get("custom_id"), data.get("title")
        if not isinstance(cid, str) or not 1 <= len(cid) <= 100:
            errors.add(("data", "custom_id"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        if not isinstance(title, str) or not 1 <= len(title) <= 45:
            errors.add(("data", "title"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length.")
        comps = data.get("components") or []
        if not 1 <= len(comps) <= 5:
            errors.add(("data", "components"), "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
        if errors:
            raise DiscordError.invalid_form_body(errors)

    def _interaction_message(
        self,
        rec: InteractionRecord,
        data: dict[str, Any],
        attachments: list[dict[str, Any]],
        *,
        loading: bool = False,
    ) -> StoredMessage:
        channel_id = rec.channel_id or 0
        msg = self.fake.new_message(
            channel_id,
            {**data, "attachments": attachments} if attachments else data,
            guild_id=rec.guild_id,
            interaction=rec,
            extra_flags=MessageFlags.LOADING if loading else 0,
        )
        if attachments:
            msg.attachments = attachments
        return msg

    # -- interactions: webhook token routes ----------------------------------------------------------------
    def _webhook_interaction(self, request: web.Request) -> InteractionRecord:
        fake = self.fake
        rec = fake._interactions_by_token.get(request.match_info["token"])
        if rec is None or request.match_info["application_id"] != str(fake.app_id):
            raise DiscordError.unknown_webhook()
        if rec.dispatched_at is not None and fake.clock() - rec.dispatched_at > fake.token_lifetime:
            raise DiscordError.invalid_webhook_token()
        if not rec.acknowledged:
            raise DiscordError.unknown_webhook()
        return rec

    def _webhook_message(self, rec: InteractionRecord, message_id: str) -> StoredMessage:
        if message_id == "@original":
            msg = rec.original
            if msg is None and rec.response is not None and rec.response.type in (6, 7):
                # For a deferred/immediate update, @original is the message the component is on.
                msg = self.fake.messages_by_id.get(rec.component_message_id or 0)
        elif message_id.isdigit():
            msg = self.fake.messages_by_id.get(int(message_id))
            allowed = {m.id for m in rec.followups} | ({rec.original.id} if rec.original else set())
            if rec.response is not None and rec.response.type in (6, 7) and rec.component_message_id:
                allowed.add(rec.component_message_id)
            if msg is not None and msg.id not in allowed:
                msg = None
        else:
            msg = None
        if msg is None or msg.deleted:
            raise DiscordError.unknown_message()
        return msg

    async def execute_webhook(self, request: web.Request) -> web.Response:
        rec = self._webhook_interaction(request)
        body = self._body(request)
        self._validate(body)
        attachments = self._attachments(request, body)
        if is_empty_message({**body, "attachments": attachments}):
            raise DiscordError.empty_message()
        original = rec.original
        if original is not None and original.loading and not original.deleted:
            # Discord: the first followup after a "thinking…" defer edits the loading message (its
            # ephemeral state was fixed by the defer).
            edit = {k: v for k, v in body.items() if k != "flags"}
            msg = self._edit(original, edit)
            if attachments:
                msg.attachments = attachments
        else:
            msg = self.fake.new_message(
                rec.channel_id or 0,
                body,
                guild_id=rec.guild_id,
                interaction=rec,
            )
            if attachments:
                msg.attachments = attachments
            rec.followups.append(msg)
        self.fake._changed()
        if not _truthy(request.query.get("wait")):
            return _no_content()
        return _ok(msg.to_dict())

    async def get_webhook_message(self, request: web.Request) -> web.Response:
        rec = self._webhook_interaction(request)
        return _ok(self._webhook_message(rec, request.match_info["message_id"]).to_dict())

    async def edit_webhook_message(self, request: web.Request) -> web.Response:
        rec = self._webhook_interaction(request)
        msg = self._webhook_message(rec, request.match_info["message_id"])
        body = self._body(request)
        attachments = self._attachments(request, body)
        self._edit(msg, body)
        if attachments:
            msg.attachments = msg.attachments + attachments
        return _ok(msg.to_dict())

    async def delete_webhook_message(self, request: web.Request) -> web.Response:
        rec = self._webhook_interaction(request)
        msg = self._webhook_message(rec, request.match_info["message_id"])
        self.fake.delete_message(msg)
        return _no_content()

    # -- channels and messages -----------------------------------------------------------------------------
    async def get_channel(self, request: web.Request) -> web.Response:
        guild, channel, _ = self._visible_channel(request)
        return _ok(self.fake.channel_payload(guild, channel))

    async def create_message(self, request: web.Request) -> web.Response:
        """Checks, in order: unknown channel (10003) → not a text channel (50008) → no VIEW_CHANNEL (50001) →
        body limits and nonce (50035) → no SEND_MESSAGES (SEND_MESSAGES_IN_THREADS in a thread), embeds
        without EMBED_LINKS, files without ATTACH_FILES (50013) → DM recipient refuses DMs (50007) → archived
        thread (50083) → empty (50006) → unknown reply target (50035). Then an enforced nonce seen before
        answers with the earlier message, else the message is created (and a scripted after-create fault,
        if due, answers an error although it exists)."""
        fake = self.fake
        guild, channel = self._channel(request)
        if not channel.is_text:
            raise DiscordError(400, 50008, "Cannot send messages in a non-text channel")
        perms = fake.bot_permissions(guild, channel)
        if not has(perms, P.VIEW_CHANNEL):
            raise DiscordError.missing_access()
        body = self._body(request)
        self._validate(body)
        self._validate_nonce(body)
        attachments = self._attachments(request, body)
        if not has(perms, P.SEND_MESSAGES_IN_THREADS if channel.is_thread else P.SEND_MESSAGES):
            raise DiscordError.missing_permissions()
        if body.get("embeds") and not has(perms, P.EMBED_LINKS):
            raise DiscordError.missing_permissions()
        if attachments and not has(perms, P.ATTACH_FILES):
            raise DiscordError.missing_permissions()
        if channel.type == ChannelType.DM and not fake.dms.can_receive(channel):
            raise DiscordError(403, 50007, "Cannot send messages to this user")
        if channel.is_thread and (channel.archived or channel.locked):
            raise DiscordError(400, 50083, "Thread is archived")
        if is_empty_message({**body, "attachments": attachments}):
            raise DiscordError.empty_message()
        ref = body.get("message_reference")
        if ref and ref.get("message_id") is not None:
            target = fake.messages_by_id.get(int(ref["message_id"]))
            if (target is None or target.deleted) and ref.get("fail_if_not_exists", True):
                errors = FormErrors()
                errors.add(("message_reference",), "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
                raise DiscordError.invalid_form_body(errors)
        rec = self._record(request)
        nonce = body.get("nonce")
        enforce = nonce is not None and body.get("enforce_nonce") is True
        if enforce:
            earlier = fake.nonces.existing(channel.id, fake.bot_user.id, nonce)
            if earlier is not None:
                rec.message_id, rec.nonce_replay = earlier.id, True
                return _ok(earlier.to_dict(with_nonce=True))
        body = {k: v for k, v in body.items() if k not in ("flags", "nonce", "enforce_nonce")} | {
            "flags": int(body.get("flags") or 0) & ~(MessageFlags.EPHEMERAL | MessageFlags.LOADING)
        }
        msg = fake.new_message(channel.id, body, guild_id=None if guild is None else guild.id)
        msg.nonce = nonce
        if attachments:
            msg.attachments = attachments
        if enforce:
            fake.nonces.remember(msg, fake.bot_user.id, nonce)
        rec.message_id = msg.id
        fault = fake.faults.after_create(channel.id)
        if fault is not None:
            raise fault
        return _ok(msg.to_dict(with_nonce=True))

    @staticmethod
    def _validate_nonce(body: dict[str, Any]) -> None:
        if body.get("nonce") is None:
            return
        problem = nonce_error(body["nonce"])
        if problem is not None:
            errors = FormErrors()
            errors.add(("nonce",), "BASE_TYPE_MAX_LENGTH" if "length" in problem else "BASE_TYPE_CHOICES", problem)
            raise DiscordError.invalid_form_body(errors)

    async def start_thread_from_message(self, request: web.Request) -> web.Response:
        """``POST /channels/{c}/messages/{m}/threads {name, auto_archive_duration, rate_limit_per_user}``.

        Checks, in order: unknown channel (10003) → no VIEW_CHANNEL (50001) → parent is not a text or
        announcement channel (50024) → unknown message (10008) → name 1..100, auto_archive_duration one of
        60/1440/4320/10080, rate_limit_per_user 0..21600 (50035) → no CREATE_PUBLIC_THREADS (50013) → the
        message already started a thread (160004). The thread's id is the message's id; it is a type 11
        channel (10 under an announcement channel) owned by the bot, and THREAD_CREATE goes to the guild's
        shard.
        """
        fake = self.fake
        guild, parent, perms = self._visible_channel(request)
        if guild is None or parent.type not in (ChannelType.GUILD_TEXT, ChannelType.GUILD_ANNOUNCEMENT):
            raise DiscordError(400, 50024, "Cannot execute action on this channel type")
        mid = request.match_info["message_id"]
        msg = fake.messages_by_id.get(int(mid)) if mid.isdigit() else None
        if msg is None or msg.deleted or msg.channel_id != parent.id or msg.ephemeral:
            raise DiscordError.unknown_message()
        body = self._body(request)
        errors = _thread_body_errors(body)
        if errors:
            raise DiscordError.invalid_form_body(errors)
        if not has(perms, P.CREATE_PUBLIC_THREADS):
            raise DiscordError.missing_permissions()
        if msg.thread_id is not None:
            raise DiscordError(400, 160004, "A thread has already been created for this message")
        thread_type = (
            ChannelType.ANNOUNCEMENT_THREAD
            if parent.type == ChannelType.GUILD_ANNOUNCEMENT
            else ChannelType.PUBLIC_THREAD
        )
        thread = Channel(
            id=msg.id,
            name=body["name"],
            type=thread_type,
            parent_id=parent.id,
            owner_id=fake.bot_user.id,
            auto_archive_duration=int(body.get("auto_archive_duration") or 1440),
            rate_limit_per_user=int(body.get("rate_limit_per_user") or 0),
            created_at=_now_iso(),
        )
        guild.channels.append(thread)
        payload = fake.channel_payload(guild, thread)
        msg.thread_id, msg.thread = thread.id, payload
        msg.flags |= HAS_THREAD
        self._record(request).message_id = msg.id
        await fake.gateway.dispatch_if_connected("THREAD_CREATE", {**payload, "newly_created": True})
        fake._changed()
        return _ok(payload)

    async def list_messages(self, request: web.Request) -> web.Response:
        _, channel, perms = self._visible_channel(request)
        raw_limit = request.query.get("limit", "50")
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
            errors = FormErrors()
            errors.add(("limit",), "NUMBER_TYPE_MAX", "int value should be between 1 and 100.")
            raise DiscordError.invalid_form_body(errors)
        limit = int(raw_limit)
        if not has(perms, P.READ_MESSAGE_HISTORY):
            return _ok([])
        history = sorted(self.fake.channel_history.get(channel.id, []), key=lambda m: m.id)
        before, after, around = (request.query.get(k) for k in ("before", "after", "around"))
        if around and around.isdigit():
            pivot = int(around)
            older = [m for m in history if m.id <= pivot][-((limit + 1) // 2) :]
            newer = [m for m in history if m.id > pivot][: limit - len(older)]
            selected = older + newer
        elif after and after.isdigit():
            selected = [m for m in history if m.id > int(after)][:limit]
        else:
            if before and before.isdigit():
                history = [m for m in history if m.id < int(before)]
            selected = history[-limit:]
        return _ok([m.to_dict() for m in sorted(selected, key=lambda m: m.id, reverse=True)])

    def _channel_message(self, request: web.Request) -> tuple[Guild | None, Channel, int, StoredMessage]:
        guild, channel, perms = self._visible_channel(request)
        mid = request.match_info["message_id"]
        msg = self.fake.messages_by_id.get(int(mid)) if mid.isdigit() else None
        if msg is None or msg.deleted or msg.channel_id != channel.id or msg.ephemeral:
            raise DiscordError.unknown_message()
        return guild, channel, perms, msg

    async def get_message(self, request: web.Request) -> web.Response:
        _, _, perms, msg = self._channel_message(request)
        if not has(perms, P.READ_MESSAGE_HISTORY):
            raise DiscordError.missing_permissions()
        return _ok(msg.to_dict())

    async def edit_message(self, request: web.Request) -> web.Response:
        """Author only (50005); the same limits as a create (50035/50006), EMBED_LINKS for embeds (50013);
        recorded in ``msg.edits``."""
        _, _, perms, msg = self._channel_message(request)
        if msg.author.get("id") != str(self.fake.bot_user.id):
            raise DiscordError.cannot_edit_other_user()
        body = self._body(request)
        if body.get("embeds") and not has(perms, P.EMBED_LINKS):
            raise DiscordError.missing_permissions()
        self._edit(msg, body, via="channel")
        self._record(request).message_id = msg.id
        return _ok(msg.to_dict())

    async def delete_message(self, request: web.Request) -> web.Response:
        _, _, perms, msg = self._channel_message(request)
        if msg.author.get("id") != str(self.fake.bot_user.id) and not has(perms, P.MANAGE_MESSAGES):
            raise DiscordError.missing_permissions()
        self.fake.delete_message(msg)
        return _no_content()

    async def typing(self, request: web.Request) -> web.Response:
        _, _, perms = self._visible_channel(request)
        if not has(perms, P.SEND_MESSAGES):
            raise DiscordError.missing_permissions()
        return _no_content()

    # -- guilds --------------------------------------------------------------------------------------------
    async def get_guild(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        data = guild.to_dict(full=False)
        if _truthy(request.query.get("with_counts")):
            data.update(approximate_member_count=len(guild.members), approximate_presence_count=0)
        return _ok(data)

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        guild = self._guild(request)  # threads are not listed here, as on Discord
        return _ok([c.to_dict(guild.id) for c in guild.channels if not c.is_thread])

    async def get_guild_roles(self, request: web.Request) -> web.Response:
        return _ok([r.to_dict() for r in self._guild(request).roles])

    async def get_member(self, request: web.Request) -> web.Response:
        guild = self._guild(request)
        uid = request.match_info["user_id"]
        member = guild.member(int(uid)) if uid.isdigit() else None
        if member is None:
            raise DiscordError.unknown_member()
        return _ok(member.to_dict())


def register_routes(fake: FakeDiscord, app: web.Application, prefix: str) -> None:
    api = RestApi(fake)
    routes: list[tuple[str, str, Any]] = [
        ("GET", "/users/@me", api.get_me),
        ("POST", "/users/@me/channels", api.create_dm),
        ("GET", "/users/{user_id}", api.get_user),
        ("GET", "/oauth2/applications/@me", api.get_application),
        ("GET", "/applications/@me", api.get_application),
        ("GET", "/gateway", api.get_gateway),
        ("GET", "/gateway/bot", api.get_gateway_bot),
        ("GET", "/applications/{application_id}/commands", api.get_commands),
        ("PUT", "/applications/{application_id}/commands", api.put_commands),
        ("GET", "/applications/{application_id}/commands/{command_id}", api.get_command),
        ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", api.get_commands),
        ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", api.put_commands),
        ("GET", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}", api.get_command),
        ("POST", "/interactions/{interaction_id}/{token}/callback", api.interaction_callback),
        ("POST", "/webhooks/{application_id}/{token}", api.execute_webhook),
        ("GET", "/webhooks/{application_id}/{token}/messages/{message_id}", api.get_webhook_message),
        ("PATCH", "/webhooks/{application_id}/{token}/messages/{message_id}", api.edit_webhook_message),
        ("DELETE", "/webhooks/{application_id}/{token}/messages/{message_id}", api.delete_webhook_message),
        ("GET", "/channels/{channel_id}", api.get_channel),
        ("GET", "/channels/{channel_id}/messages", api.list_messages),
        ("POST", "/channels/{channel_id}/messages", api.create_message),
        ("GET", "/channels/{channel_id}/messages/{message_id}", api.get_message),
        ("PATCH", "/channels/{channel_id}/messages/{message_id}", api.edit_message),
        ("DELETE", "/channels/{channel_id}/messages/{message_id}", api.delete_message),
        ("POST", "/channels/{channel_id}/messages/{message_id}/threads", api.start_thread_from_message),
        ("POST", "/channels/{channel_id}/typing", api.typing),
        ("GET", "/guilds/{guild_id}", api.get_guild),
        ("GET", "/guilds/{guild_id}/channels", api.get_guild_channels),
        ("GET", "/guilds/{guild_id}/roles", api.get_guild_roles),
        ("GET", "/guilds/{guild_id}/members/{user_id}", api.get_member),
    ]
    # Anything else under the API prefix has no route: the middleware records it as unhandled, answers 404/405.
    for method, path, handler in routes:
        app.router.add_route(method, prefix + path, handler)
