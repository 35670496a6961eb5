"""The fake Discord itself, over raw HTTP and a raw gateway websocket: every limit and error it must enforce.

These tests talk to the fake the way Discord's API is specified (no discord.py), so a fake that accepted an
over-limit body, answered the wrong code, or spoke the gateway protocol wrongly fails here — the bot's
end-to-end tests are only as strict as this fake. Each limit is checked at the limit (accepted) and one past
it (rejected with 50035 at the right error path), so neither a too-lax nor a too-strict fake passes.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from fake_discord import (
    FakeDiscord,
    ManualClock,
    Member,
    Overwrite,
    P,
    User,
    default_guild,
    ids,
)
from fake_discord.tests.rawclient import Env, RawGateway, env_for, error_paths


def _embed(**kw: Any) -> dict[str, Any]:
    return {"title": "t", **kw}


def _button(i: int) -> dict[str, Any]:
    return {"type": 2, "style": 1, "label": f"b{i}", "custom_id": f"b{i}"}


def _row(n: int, start: int = 0) -> dict[str, Any]:
    return {"type": 1, "components": [_button(start + i) for i in range(n)]}


def _select(options: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": 1, "components": [{"type": 3, "custom_id": "s", "options": options}]}


def _opts(n: int, label: str = "l", value: str | None = None) -> list[dict[str, Any]]:
    return [{"label": label, "value": value if value is not None else f"v{i}"} for i in range(n)] if n else []


# (name, body at the limit, body one past it, error path expected for the latter)
MESSAGE_LIMITS = [
    ("content", {"content": "x" * 2000}, {"content": "x" * 2001}, "content"),
    ("embed count", {"embeds": [_embed()] * 10}, {"embeds": [_embed()] * 11}, "embeds"),
    ("title", {"embeds": [_embed(title="x" * 256)]}, {"embeds": [_embed(title="x" * 257)]}, "embeds.0.title"),
    (
        "description",
        {"embeds": [_embed(description="x" * 4096)]},
        {"embeds": [_embed(description="x" * 4097)]},
        "embeds.0.description",
    ),
    (
        "field count",
        {"embeds": [_embed(fields=[{"name": "n", "value": "v"}] * 25)]},
        {"embeds": [_embed(fields=[{"name": "n", "value": "v"}] * 26)]},
        "embeds.0.fields",
    ),
    (
        "field name",
        {"embeds": [_embed(fields=[{"name": "x" * 256, "value": "v"}])]},
        {"embeds": [_embed(fields=[{"name": "x" * 257, "value": "v"}])]},
        "embeds.0.fields.0.name",
    ),
    (
        "field value",
        {"embeds": [_embed(fields=[{"name": "n", "value": "x" * 1024}])]},
        {"embeds": [_embed(fields=[{"name": "n", "value": "x" * 1025}])]},
        "embeds.0.fields.0.value",
    ),
    (
        "footer",
        {"embeds": [_embed(footer={"text": "x" * 2048})]},
        {"embeds": [_embed(footer={"text": "x" * 2049})]},
        "embeds.0.footer.text",
    ),
    (
        "author",
        {"embeds": [_embed(author={"name": "x" * 256})]},
        {"embeds": [_embed(author={"name": "x" * 257})]},
        "embeds.0.author.name",
    ),
    (
        "6000 total over embeds",
        {"embeds": [{"description": "x" * 3000}, {"description": "x" * 3000}]},
        {"embeds": [{"description": "x" * 3000}, {"description": "x" * 3001}]},
        "embeds",
    ),
    (
        "6000 total in one embed",
        {"embeds": [{"title": "x" * 256, "description": "x" * 4096, "footer": {"text": "x" * 1648}}]},
        {"embeds": [{"title": "x" * 256, "description": "x" * 4096, "footer": {"text": "x" * 1649}}]},
        "embeds",
    ),
    (
        "action rows",
        {"content": "c", "components": [_row(1, i * 10) for i in range(5)]},
        {"content": "c", "components": [_row(1, i * 10) for i in range(6)]},
        "components",
    ),
    (
        "buttons per row",
        {"content": "c", "components": [_row(5)]},
        {"content": "c", "components": [_row(6)]},
        "components.0.components",
    ),
    (
        "select options",
        {"content": "c", "components": [_select(_opts(25))]},
        {"content": "c", "components": [_select(_opts(26))]},
        "components.0.components.0.options",
    ),
    (
        "select option label",
        {"content": "c", "components": [_select(_opts(1, label="x" * 100))]},
        {"content": "c", "components": [_select(_opts(1, label="x" * 101))]},
        "components.0.components.0.options.0.label",
    ),
    (
        "select option value",
        {"content": "c", "components": [_select(_opts(1, value="x" * 100))]},
        {"content": "c", "components": [_select(_opts(1, value="x" * 101))]},
        "components.0.components.0.options.0.value",
    ),
    (
        "button custom_id",
        {"content": "c", "components": [{"type": 1, "components": [dict(_button(0), custom_id="x" * 100)]}]},
        {"content": "c", "components": [{"type": 1, "components": [dict(_button(0), custom_id="x" * 101)]}]},
        "components.0.components.0.custom_id",
    ),
]


@pytest.mark.parametrize(("name", "ok_body", "bad_body", "path"), MESSAGE_LIMITS, ids=[m[0] for m in MESSAGE_LIMITS])
async def test_channel_message_limits(
    env: Env, name: str, ok_body: dict[str, Any], bad_body: dict[str, Any], path: str
) -> None:
    status, data, _ = await env.post_message(ok_body)
    assert status == 200, data
    status, data, headers = await env.post_message(bad_body)
    assert status == 400
    assert headers["Content-Type"] == "application/json"
    assert data["code"] == 50035 and data["message"] == "Invalid Form Body"
    assert path in error_paths(data)
    assert len(env.fake.channel_messages(ids.GENERAL_CHANNEL_ID)) == 1  # the rejected one was not stored


@pytest.mark.parametrize(
    ("name", "ok_body", "bad_body", "path"), MESSAGE_LIMITS[:4], ids=[m[0] for m in MESSAGE_LIMITS[:4]]
)
async def test_interaction_response_and_followup_limits(
    env: Env, name: str, ok_body: dict[str, Any], bad_body: dict[str, Any], path: str
) -> None:
    handle = await env.fake.slash("ping")
    status, data, _ = await env.callback(handle, {"type": 4, "data": bad_body})
    assert (status, data["code"]) == (400, 50035) and path in error_paths(data)
    assert not handle.record.acknowledged  # a rejected response doesn't acknowledge
    status, data, _ = await env.callback(handle, {"type": 4, "data": ok_body})
    assert status == 200, data
    status, data, _ = await env.webhook("POST", handle, body=bad_body, params={"wait": "true"})
    assert (status, data["code"]) == (400, 50035) and path in error_paths(data)
    status, data, _ = await env.webhook("PATCH", handle, "/messages/@original", body=bad_body)
    assert (status, data["code"]) == (400, 50035) and path in error_paths(data)


def test_duplicate_custom_ids_and_bad_urls_are_rejected() -> None:
    from fake_discord.limits import validate_message

    dup = {"content": "c", "components": [{"type": 1, "components": [_button(0), _button(0)]}]}
    assert "COMPONENT_CUSTOM_ID_DUPLICATED" in validate_message(dup).codes()
    bad_url = {"embeds": [{"title": "t", "url": "javascript:alert(1)"}]}
    assert validate_message(bad_url).paths() == ["embeds.0.url"]
    good = {
        "embeds": [{"title": "t", "url": "https://arxiv.org/abs/2401.00001", "thumbnail": {"url": "https://x/y.png"}}]
    }
    assert not validate_message(good)
    select_with_button = {
        "content": "c",
        "components": [{"type": 1, "components": [_button(0), _select(_opts(2))["components"][0]]}],
    }
    assert validate_message(select_with_button).paths() == ["components.0.components"]


@pytest.mark.parametrize(
    ("choices", "ok"),
    [
        ([{"name": f"n{i}", "value": f"v{i}"} for i in range(25)], True),
        ([{"name": f"n{i}", "value": f"v{i}"} for i in range(26)], False),
        ([{"name": "x" * 100, "value": "y" * 100}], True),
        ([{"name": "x" * 101, "value": "v"}], False),
        ([{"name": "n", "value": "y" * 101}], False),
        ([{"name": "", "value": "v"}], False),
    ],
    ids=["25 choices", "26 choices", "100 chars", "name 101", "value 101", "empty name"],
)
async def test_autocomplete_limits(env: Env, choices: list[dict[str, Any]], ok: bool) -> None:
    handle = await env.fake.autocomplete("find", "text", text="att")
    assert handle.payload["type"] == 4
    assert handle.payload["data"]["options"] == [{"name": "text", "type": 3, "value": "att", "focused": True}]
    status, data, _ = await env.callback(handle, {"type": 8, "data": {"choices": choices}})
    if ok:
        assert status == 200, data
        assert await handle.choices() == choices
    else:
        assert (status, data["code"]) == (400, 50035)


@pytest.mark.parametrize(
    "body",
    [{}, {"content": ""}, {"content": "   \n"}, {"content": None, "embeds": [], "components": []}],
    ids=["nothing", "empty", "whitespace", "null and empty lists"],
)
async def test_empty_message_is_50006(env: Env, body: dict[str, Any]) -> None:
    status, data, _ = await env.post_message(body)
    assert (status, data["code"], data["message"]) == (400, 50006, "Cannot send an empty message")
    handle = await env.fake.slash("ping")
    status, data, _ = await env.callback(handle, {"type": 4, "data": body})
    assert (status, data["code"]) == (400, 50006)


async def test_components_alone_make_a_message(env: Env) -> None:
    status, data, _ = await env.post_message({"components": [_row(1)]})
    assert status == 200 and data["components"][0]["components"][0]["custom_id"] == "b0"


async def test_editing_a_message_to_nothing_is_50006(env: Env) -> None:
    status, msg, _ = await env.post_message({"content": "hello"})
    assert status == 200
    status, data, _ = await env.call(
        "PATCH", f"/channels/{ids.GENERAL_CHANNEL_ID}/messages/{msg['id']}", {"content": ""}
    )
    assert (status, data["code"]) == (400, 50006)
    status, data, _ = await env.call(
        "PATCH", f"/channels/{ids.GENERAL_CHANNEL_ID}/messages/{msg['id']}", {"content": "ok"}
    )
    assert status == 200 and data["content"] == "ok" and data["edited_timestamp"]


async def test_second_initial_response_is_40060(env: Env) -> None:
    handle = await env.fake.slash("ping")
    status, data, _ = await env.callback(handle, {"type": 5})
    assert status == 200
    status, data, _ = await env.callback(handle, {"type": 4, "data": {"content": "again"}})
    assert (status, data["code"], data["message"]) == (400, 40060, "Interaction has already been acknowledged.")
    assert handle.record.response is not None and handle.record.response.type == 5


async def test_late_initial_response_is_10062(clocked_env: Env, clock: ManualClock) -> None:
    env = clocked_env
    on_time = await env.fake.slash("ping")
    clock.advance(2.99)
    status, _, _ = await env.callback(on_time, {"type": 4, "data": {"content": "in time"}})
    assert status == 200
    assert (await on_time.response()).latency == pytest.approx(2.99)

    late = await env.fake.slash("ping")
    clock.advance(3.01)
    status, data, _ = await env.callback(late, {"type": 4, "data": {"content": "too late"}})
    assert (status, data["code"], data["message"]) == (404, 10062, "Unknown interaction")
    assert late.record.expired and not late.record.acknowledged
    (req,) = late.requests
    assert req.since_dispatch == pytest.approx(3.01)


async def test_configurable_deadline() -> None:
    clock = ManualClock()
    async with FakeDiscord(clock=clock, interaction_timeout=10.0) as fake, env_for(fake) as env:
        handle = await fake.slash("ping")
        clock.advance(5)
        status, _, _ = await env.callback(handle, {"type": 5})
        assert status == 200


async def test_unknown_interaction_token_is_10062(env: Env) -> None:
    handle = await env.fake.slash("ping")
    status, data, _ = await env.call("POST", f"/interactions/{handle.id}/not-the-token/callback", {"type": 5})
    assert (status, data["code"]) == (404, 10062)


async def test_response_type_must_fit_the_interaction(env: Env) -> None:
    handle = await env.fake.slash("ping")
    status, data, _ = await env.callback(handle, {"type": 8, "data": {"choices": []}})
    assert (status, data["code"]) == (400, 50035) and error_paths(data) == ["type"]
    status, data, _ = await env.callback(handle, {"type": 7, "data": {"content": "x"}})
    assert (status, data["code"]) == (400, 50035)


async def test_callback_with_response_returns_the_created_message(env: Env) -> None:
    handle = await env.fake.slash("ping")
    status, data, _ = await env.callback(handle, {"type": 4, "data": {"content": "pong", "flags": 64}})
    assert status == 200
    message = data["resource"]["message"]
    assert data["resource"]["type"] == 4
    assert data["interaction"]["response_message_id"] == message["id"]
    assert data["interaction"]["response_message_ephemeral"] is True
    assert message["content"] == "pong" and message["flags"] & 64
    assert message["author"]["id"] == str(ids.APP_ID)
    assert env.fake.channel_messages(ids.GENERAL_CHANNEL_ID) == []  # ephemeral: not in the channel
    original = await handle.original()
    assert original.id == int(message["id"]) and original.ephemeral


async def test_callback_without_with_response_is_204(env: Env) -> None:
    handle = await env.fake.slash("ping")
    status, data, _ = await env.call("POST", f"/interactions/{handle.id}/{handle.token}/callback", {"type": 5})
    assert status == 204 and data == ""


async def test_followup_before_acknowledgement_is_unknown_webhook(env: Env) -> None:
    handle = await env.fake.slash("ping")
    status, data, _ = await env.webhook("POST", handle, body={"content": "early"}, params={"wait": "true"})
    assert (status, data["code"]) == (404, 10015)
    status, data, _ = await env.webhook("GET", handle, "/messages/@original")
    assert (status, data["code"]) == (404, 10015)


async def test_first_followup_after_defer_edits_the_loading_original(env: Env) -> None:
    handle = await env.fake.slash("ping")
    status, data, _ = await env.callback(handle, {"type": 5, "data": {"flags": 64}})
    assert data["interaction"]["response_message_loading"] is True
    loading = await handle.original(loaded=False)
    assert loading.loading and loading.ephemeral
    status, first, _ = await env.webhook("POST", handle, body={"content": "one"}, params={"wait": "true"})
    assert status == 200 and first["id"] == str(loading.id)
    assert not first["flags"] & 128 and first["flags"] & 64  # loaded, still ephemeral (decided by the defer)
    status, second, _ = await env.webhook("POST", handle, body={"content": "two"}, params={"wait": "true"})
    assert status == 200 and second["id"] != first["id"] and not second["flags"] & 64
    assert (await handle.original()).content == "one"
    assert [m.content for m in handle.followups] == ["two"]
    status, edited, _ = await env.webhook("PATCH", handle, f"/messages/{second['id']}", {"content": "two!"})
    assert status == 200 and edited["content"] == "two!"
    status, _, _ = await env.webhook("DELETE", handle, "/messages/@original")
    assert status == 204
    status, data, _ = await env.webhook("GET", handle, "/messages/@original")
    assert (status, data["code"]) == (404, 10008)


async def test_webhook_token_expires_after_15_minutes(clocked_env: Env, clock: ManualClock) -> None:
    handle = await clocked_env.fake.slash("ping")
    await clocked_env.callback(handle, {"type": 5})
    clock.advance(15 * 60 + 1)
    status, data, _ = await clocked_env.webhook("PATCH", handle, "/messages/@original", {"content": "late"})
    assert (status, data["code"]) == (401, 50027)


@pytest.mark.parametrize(
    ("channel_id", "body", "status", "code"),
    [
        (ids.HIDDEN_CHANNEL_ID, {"content": "x"}, 403, 50001),
        (ids.ANNOUNCEMENTS_CHANNEL_ID, {"content": "x"}, 403, 50013),
        (ids.NO_EMBEDS_CHANNEL_ID, {"embeds": [{"title": "x"}]}, 403, 50013),
        (ids.NO_EMBEDS_CHANNEL_ID, {"content": "plain text is fine"}, 200, 0),
        (ids.GENERAL_CHANNEL_ID, {"embeds": [{"title": "x"}]}, 200, 0),
        (999_999_999_999_999_999, {"content": "x"}, 404, 10003),
        (ids.VOICE_CHANNEL_ID, {"content": "x"}, 400, 50008),
    ],
    ids=["no view: 50001", "no send: 50013", "no embed links: 50013", "no embed links, text", "ok", "unknown", "voice"],
)
async def test_channel_permissions(env: Env, channel_id: int, body: dict[str, Any], status: int, code: int) -> None:
    got_status, data, _ = await env.post_message(body, channel_id)
    assert got_status == status, data
    if code:
        assert data["code"] == code
    status_get, data_get, _ = await env.call("GET", f"/channels/{channel_id}")
    if channel_id == ids.HIDDEN_CHANNEL_ID:
        assert (status_get, data_get["code"]) == (403, 50001)


def test_permission_algorithm() -> None:
    guild = default_guild()
    bot = guild.member(ids.BOT_USER_ID)
    admin = guild.member(ids.ADMIN_USER_ID)
    member = guild.member(ids.MEMBER_USER_ID)
    assert bot and admin and member
    hidden = guild.channel(ids.HIDDEN_CHANNEL_ID)
    general = guild.channel(ids.GENERAL_CHANNEL_ID)
    announcements = guild.channel(ids.ANNOUNCEMENTS_CHANNEL_ID)
    assert hidden and general and announcements
    assert guild.permissions_for(bot, hidden) == 0
    assert guild.permissions_for(admin, hidden) & P.ADMINISTRATOR
    assert guild.permissions_for(member, general) & P.SEND_MESSAGES
    assert not guild.permissions_for(member, announcements) & P.SEND_MESSAGES
    assert not guild.permissions_for(member) & P.MANAGE_GUILD
    assert guild.permissions_for(guild.member(ids.MODERATOR_USER_ID)) & P.MANAGE_GUILD  # type: ignore[arg-type]
    # A member overwrite beats role overwrites, which beat @everyone's.
    announcements.overwrites.append(Overwrite(id=ids.MEMBER_USER_ID, type=1, allow=int(P.SEND_MESSAGES)))
    assert guild.permissions_for(member, announcements) & P.SEND_MESSAGES
    guild.members.append(Member(User(42_000_000_000_000_000, "new")))
    assert guild.permissions_for(guild.members[-1], hidden) == 0


async def test_rate_limit_answers_429_with_discord_headers(env: Env) -> None:
    env.fake.rate_limit_next("POST /channels/*/messages", retry_after=0.25)
    status, data, headers = await env.post_message({"content": "x"})
    assert status == 429
    assert data["retry_after"] == 0.25 and data["global"] is False
    assert headers["Retry-After"] == "0.25"
    assert headers["Via"]
    assert headers["X-RateLimit-Remaining"] == "0"
    assert float(headers["X-RateLimit-Reset-After"]) == pytest.approx(0.25)
    assert headers["X-RateLimit-Bucket"] and headers["X-RateLimit-Limit"] and headers["X-RateLimit-Reset"]
    assert env.fake.channel_messages(ids.GENERAL_CHANNEL_ID) == []
    status, _, _ = await env.post_message({"content": "x"})  # only the next one was scripted
    assert status == 200
    statuses = [r.status for r in env.fake.requests_to("POST /channels/{channel_id}/messages")]
    assert statuses == [429, 200]
    assert env.fake.rejected == []  # a scripted 429 is not a refusal
    await env.post_message({"content": ""})
    assert [(r.status, r.code) for r in env.fake.rejected] == [(400, 50006)]


async def test_global_rate_limit_and_scripted_failures(env: Env) -> None:
    env.fake.rate_limit_next("/channels/*", retry_after=1.5, is_global=True)
    status, data, headers = await env.call("GET", f"/channels/{ids.GENERAL_CHANNEL_ID}")
    assert status == 429 and data["global"] is True and headers["X-RateLimit-Global"] == "true"
    env.fake.fail_next("GET /guilds/*", status=503, times=2)
    for _ in range(2):
        status, data, _ = await env.call("GET", f"/guilds/{ids.GUILD_ID}")
        assert status == 503 and data["code"] == 0
    status, data, _ = await env.call("GET", f"/guilds/{ids.GUILD_ID}")
    assert status == 200 and data["id"] == str(ids.GUILD_ID)


async def test_unknown_routes_are_404_and_recorded(env: Env) -> None:
    status, data, headers = await env.call("GET", "/users/@me/guilds")
    assert (status, data) == (404, {"message": "404: Not Found", "code": 0})
    assert headers["Content-Type"] == "application/json"
    status, _, _ = await env.call("POST", "/users/@me")
    assert status == 405
    assert [str(r) for r in env.fake.unhandled] == ["GET /users/@me/guilds -> 404", "POST /users/@me -> 405"]
    with pytest.raises(AssertionError, match="unhandled route"):
        env.fake.assert_clean()


async def test_wrong_bot_token_is_401(env: Env) -> None:
    status, data, _ = await env.call("GET", "/users/@me", headers={"Authorization": "Bot nope"})
    assert (status, data["code"]) == (401, 0)
    status, data, _ = await env.call("GET", "/users/@me")
    assert status == 200 and data["id"] == str(ids.APP_ID) and data["bot"] is True


async def test_json_content_type_is_exact(env: Env) -> None:
    for path in ("/users/@me", "/gateway/bot", f"/guilds/{ids.GUILD_ID}/channels"):
        _, _, headers = await env.call("GET", path)
        assert headers["Content-Type"] == "application/json"


async def test_command_sync_stores_tree_with_ids_and_string_permissions(env: Env) -> None:
    tree = [
        {
            "name": "paper",
            "description": "papers",
            "default_member_permissions": 32,
            "options": [
                {
                    "name": "digest",
                    "description": "digest",
                    "type": 2,
                    "options": [{"name": "list", "description": "list", "type": 1}],
                }
            ],
        }
    ]
    status, data, _ = await env.sync(tree)
    assert status == 200
    (cmd,) = data
    assert cmd["default_member_permissions"] == "32" and cmd["guild_id"] == str(ids.GUILD_ID)
    assert int(cmd["id"]) > 0 and cmd["application_id"] == str(ids.APP_ID)
    status, again, _ = await env.sync(tree)
    assert again[0]["id"] == cmd["id"]  # same name, same id (as Discord's bulk overwrite)
    status, listed, _ = await env.call("GET", f"/applications/{ids.APP_ID}/guilds/{ids.GUILD_ID}/commands")
    assert listed == again and env.fake.commands[ids.GUILD_ID] == again
    status, data, _ = await env.sync([], guild_id=None)
    assert status == 200 and env.fake.commands[None] == []


@pytest.mark.parametrize(
    ("command", "path"),
    [
        ({"name": "Paper", "description": "d"}, "0.name"),
        ({"name": "paper", "description": "d" * 101}, "0.description"),
        ({"name": "paper", "description": ""}, "0.description"),
        (
            {
                "name": "p",
                "description": "d",
                "options": [
                    {"name": "a", "description": "d", "type": 3},
                    {"name": "b", "description": "d", "type": 3, "required": True},
                ],
            },
            "0.options.1.required",
        ),
        (
            {
                "name": "p",
                "description": "d",
                "options": [{"name": f"o{i}", "description": "d", "type": 3} for i in range(26)],
            },
            "0.options",
        ),
    ],
    ids=["uppercase name", "long description", "empty description", "required after optional", "26 options"],
)
async def test_command_sync_validation(env: Env, command: dict[str, Any], path: str) -> None:
    status, data, _ = await env.sync([command])
    assert (status, data["code"]) == (400, 50035)
    assert path in error_paths(data)


async def test_message_history_paging(env: Env) -> None:
    sent = []
    for i in range(5):
        _, msg, _ = await env.post_message({"content": f"m{i}"})
        sent.append(msg["id"])
    base = f"/channels/{ids.GENERAL_CHANNEL_ID}/messages"
    _, newest, _ = await env.call("GET", base, params={"limit": "2"})
    assert [m["content"] for m in newest] == ["m4", "m3"]
    _, older, _ = await env.call("GET", base, params={"limit": "10", "before": sent[2]})
    assert [m["content"] for m in older] == ["m1", "m0"]
    _, after, _ = await env.call("GET", base, params={"limit": "2", "after": sent[1]})
    assert [m["content"] for m in after] == ["m3", "m2"]
    status, data, _ = await env.call("GET", base, params={"limit": "101"})
    assert (status, data["code"]) == (400, 50035)
    status, data, _ = await env.call("GET", f"/channels/{ids.HIDDEN_CHANNEL_ID}/messages")
    assert (status, data["code"]) == (403, 50001)


async def test_allowed_mentions_decide_who_is_pinged(env: Env) -> None:
    text = f"@everyone look <@{ids.MEMBER_USER_ID}> <@&{ids.MODERATOR_ROLE_ID}>"
    _, _, _ = await env.post_message({"content": text})
    _, _, _ = await env.post_message({"content": text, "allowed_mentions": {"parse": []}})
    _, _, _ = await env.post_message(
        {"content": text, "allowed_mentions": {"parse": [], "users": [str(ids.MEMBER_USER_ID)]}}
    )
    default, silenced, only_user = env.fake.channel_messages(ids.GENERAL_CHANNEL_ID)
    assert default.mention_everyone and default.mentions == [ids.MEMBER_USER_ID]
    assert default.mention_roles == [ids.MODERATOR_ROLE_ID] and default.allowed_mentions is None
    assert not silenced.mention_everyone and silenced.mentions == [] and silenced.mention_roles == []
    assert silenced.allowed_mentions == {"parse": []}
    assert not only_user.mention_everyone and only_user.mentions == [ids.MEMBER_USER_ID]
    status, data, _ = await env.post_message({"content": "x", "allowed_mentions": {"parse": ["users"], "users": ["1"]}})
    assert (status, data["code"]) == (400, 50035)


async def test_gateway_speaks_zlib_stream_with_sync_flush() -> None:
    async with FakeDiscord() as fake, aiohttp.ClientSession() as http:
        async with RawGateway(http, fake.gateway.url) as gw:
            ready = await gw.identify(fake.token)
            assert set(gw.frames) == {aiohttp.WSMsgType.BINARY}
            assert ready["s"] == 1
            data = ready["d"]
            assert data["user"]["id"] == str(ids.APP_ID) and data["application"]["id"] == str(ids.APP_ID)
            assert data["resume_gateway_url"] == fake.gateway.resume_url
            guild_create = await gw.recv()
            assert guild_create["t"] == "GUILD_CREATE" and guild_create["s"] == 2
            me = next(m for m in guild_create["d"]["members"] if m["user"]["id"] == str(ids.APP_ID))
            assert str(ids.BOT_ROLE_ID) in me["roles"]
            await gw.send({"op": 1, "d": 2})
            assert await gw.recv() == {"op": 11, "d": None}
            assert fake.gateway.identifies[0]["intents"] == 513
        async with RawGateway(http, fake.gateway.url, compress=False) as plain:
            await plain.identify(fake.token)
            assert set(plain.frames) == {aiohttp.WSMsgType.TEXT}


async def test_gateway_rejects_a_wrong_token_with_4004() -> None:
    async with FakeDiscord() as fake, aiohttp.ClientSession() as http, RawGateway(http, fake.gateway.url) as gw:
        await gw.recv()
        await gw.send({"op": 2, "d": {"token": "wrong", "intents": 0, "properties": {}}})
        with pytest.raises(ConnectionError):
            await gw.recv()
        assert gw.ws is not None and gw.ws.close_code == 4004


async def test_gateway_resume_replays_missed_events() -> None:
    async with FakeDiscord() as fake, aiohttp.ClientSession() as http:
        async with RawGateway(http, fake.gateway.url, close_code=4000) as gw:  # 1000/1001 would end the session
            ready = await gw.identify(fake.token)
            await gw.recv_until("GUILD_CREATE")
            session_id = ready["d"]["session_id"]
        await fake.wait_for(lambda: fake.gateway.connection is None, what="the socket to close")
        missed = await fake.gateway.dispatch("TYPING_START", {"channel_id": "1"})
        async with RawGateway(http, fake.gateway.resume_url) as gw2:
            await gw2.recv()  # HELLO
            await gw2.send({"op": 6, "d": {"token": fake.token, "session_id": session_id, "seq": 2}})
            replay = await gw2.recv()
            assert (replay["t"], replay["s"]) == ("TYPING_START", missed)
            assert (await gw2.recv())["t"] == "RESUMED"
        async with RawGateway(http, fake.gateway.url) as gw3:
            await gw3.recv()
            await gw3.send({"op": 6, "d": {"token": fake.token, "session_id": "nope", "seq": 0}})
            assert await gw3.recv() == {"op": 9, "d": False}


BUILDER_COMMANDS = [
    {
        "name": "paper",
        "description": "papers",
        "options": [
            {
                "name": "search",
                "description": "search",
                "type": 1,
                "options": [
                    {"name": "query", "description": "q", "type": 3, "required": True, "max_length": 200},
                    {
                        "name": "sort",
                        "description": "s",
                        "type": 3,
                        "choices": [{"name": "Newest", "value": "newest"}, {"name": "Upvotes", "value": "upvotes"}],
                    },
                    {"name": "limit", "description": "l", "type": 4, "min_value": 1, "max_value": 25},
                ],
            },
            {
                "name": "digest",
                "description": "digest",
                "type": 2,
                "options": [
                    {
                        "name": "subscribe",
                        "description": "sub",
                        "type": 1,
                        "options": [
                            {"name": "channel", "description": "c", "type": 7, "required": True, "channel_types": [0]}
                        ],
                    }
                ],
            },
        ],
    }
]


async def test_builder_types_options_from_the_synced_tree_and_computes_permissions(env: Env) -> None:
    await env.sync(BUILDER_COMMANDS)
    build = env.fake.build
    admin = build.chat_input(
        "paper digest subscribe", channel=ids.GENERAL_CHANNEL_ID, user_id=ids.ADMIN_USER_ID, locale="de"
    )
    member = build.chat_input("paper search", query="q", sort="newest", limit=3)
    assert admin["type"] == member["type"] == 2
    assert admin["locale"] == "de" and member["locale"] == "en-US" and admin["guild_locale"] == "en-US"
    assert (
        admin["data"]["guild_id"] == str(ids.GUILD_ID)
        and admin["data"]["id"] == env.fake.commands[ids.GUILD_ID][0]["id"]
    )
    group = admin["data"]["options"][0]
    assert (group["name"], group["type"], group["options"][0]["name"]) == ("digest", 2, "subscribe")
    resolved = admin["data"]["resolved"]["channels"][str(ids.GENERAL_CHANNEL_ID)]
    assert resolved["name"] == "general" and int(resolved["permissions"]) & P.ADMINISTRATOR
    assert int(admin["member"]["permissions"]) & P.ADMINISTRATOR
    assert not int(member["member"]["permissions"]) & (P.ADMINISTRATOR | P.MANAGE_GUILD)
    assert member["member"]["user"]["id"] == str(ids.MEMBER_USER_ID)
    app = int(member["app_permissions"])
    assert app & P.SEND_MESSAGES and app & P.EMBED_LINKS and not app & P.ADMINISTRATOR
    hidden = build.chat_input("paper search", query="q", channel_id=ids.HIDDEN_CHANNEL_ID, user_id=ids.ADMIN_USER_ID)
    assert hidden["app_permissions"] == "0"  # the bot can't see that channel
    assert member["data"]["options"][0]["options"] == [
        {"name": "query", "type": 3, "value": "q"},
        {"name": "sort", "type": 3, "value": "newest"},
        {"name": "limit", "type": 4, "value": 3},
    ]


@pytest.mark.parametrize(
    ("command", "options", "error"),
    [
        ("paper search", {}, ValueError),  # required option missing
        ("paper search", {"query": "q", "nope": 1}, LookupError),
        ("paper search", {"query": "q", "sort": "oldest"}, ValueError),  # not a choice
        ("paper search", {"query": "q", "limit": 26}, ValueError),  # max_value
        ("paper search", {"query": "x" * 201}, ValueError),  # max_length
        ("paper search", {"query": 5}, ValueError),  # wrong type
        ("paper digest subscribe", {"channel": ids.VOICE_CHANNEL_ID}, ValueError),  # channel_types
        ("paper digest subscribe", {"channel": 12345}, LookupError),  # no such channel
        ("paper digest", {}, ValueError),  # a group, not a command
        ("paper fetch", {}, LookupError),
        ("papers", {}, LookupError),  # not synced
    ],
)
async def test_builder_refuses_what_a_client_cannot_send(
    env: Env, command: str, options: dict[str, Any], error: type[Exception]
) -> None:
    await env.sync(BUILDER_COMMANDS)
    with pytest.raises(error):
        env.fake.build.chat_input(command, **options)


async def test_component_builders_follow_the_stored_message(env: Env) -> None:
    components = [
        {
            "type": 1,
            "components": [
                {"type": 2, "style": 1, "label": "Next", "custom_id": "next"},
                {"type": 2, "style": 2, "label": "Prev", "custom_id": "prev", "disabled": True},
                {"type": 2, "style": 5, "label": "arXiv", "url": "https://arxiv.org/abs/2401.00001"},
            ],
        },
        _select(_opts(3)),
    ]
    _, sent, _ = await env.post_message({"content": "page", "components": components})
    message = env.fake.message(int(sent["id"]))
    press = env.fake.build.button(message, label="Next", user_id=ids.OTHER_USER_ID)
    assert press["type"] == 3 and press["data"] == {"custom_id": "next", "component_type": 2}
    assert press["message"]["id"] == sent["id"] and press["channel_id"] == str(ids.GENERAL_CHANNEL_ID)
    assert press["member"]["user"]["id"] == str(ids.OTHER_USER_ID)
    with pytest.raises(ValueError, match="disabled"):
        env.fake.build.button(message, "prev")
    assert env.fake.build.button(message, "prev", force=True)["data"]["custom_id"] == "prev"
    with pytest.raises(ValueError, match="link"):
        env.fake.build.button(message, label="arXiv")
    with pytest.raises(LookupError):
        env.fake.build.button(message, "missing")
    pick = env.fake.build.select(message, values=["v2"])
    assert pick["data"] == {"custom_id": "s", "component_type": 3, "values": ["v2"]}
    with pytest.raises(ValueError, match="not offered"):
        env.fake.build.select(message, values=["v9"])
    with pytest.raises(ValueError, match="allows"):
        env.fake.build.select(message, values=["v0", "v1"])
