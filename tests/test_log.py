"""Logging: the token never reaches stderr — not in messages, arguments, tracebacks or stack dumps."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import aiohttp
import pytest

import bot.log
from bot.log import REDACTED, RedactingFilter, describe_network_error, get_logger, setup_logging
from tests.broken_peers import UNRESOLVABLE_HOST, BrokenPeers

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.secret-token-value_0123456789abcdefghijk"
OTHER_SECRET = "hunter2-but-longer"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Undo setup_logging's changes to the process-wide logging state after each test."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    filters = {handler: list(handler.filters) for handler in handlers}
    level = root.level
    names = [*bot.log._LIBRARY_FLOORS, "bot"]
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    root.handlers[:] = handlers
    for handler, saved in filters.items():
        handler.filters[:] = saved
    root.setLevel(level)
    for name, saved_level in levels.items():
        logging.getLogger(name).setLevel(saved_level)
    bot.log._handler = None
    bot.log._filter = None


def stderr_after(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert OTHER_SECRET not in err
    return err


def test_token_in_message_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", [TOKEN])
    get_logger("bot.test").info(f"connecting with {TOKEN} now")
    err = stderr_after(capsys)
    assert f"connecting with {REDACTED} now" in err
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ INFO    bot\.test: connecting", err)


def test_token_in_arguments_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("DEBUG", [TOKEN, OTHER_SECRET])
    log = get_logger("bot.test")
    log.debug("token=%s other=%r", TOKEN, {"password": OTHER_SECRET})
    log.warning("%(t)s", {"t": TOKEN})
    err = stderr_after(capsys)
    assert f"token={REDACTED} other={{'password': '{REDACTED}'}}" in err
    assert f"WARNING bot.test: {REDACTED}" in err


def test_token_in_exception_traceback_is_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", [TOKEN])
    try:
        raise RuntimeError(f"401 Unauthorized for token {TOKEN}")
    except RuntimeError:
        get_logger("bot.test").exception("login failed")
    err = stderr_after(capsys)
    assert "Traceback (most recent call last)" in err
    assert f"RuntimeError: 401 Unauthorized for token {REDACTED}" in err


def test_chained_exception_and_stack_info_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", [TOKEN])
    try:
        try:
            raise KeyError(TOKEN)
        except KeyError as inner:
            raise ValueError("wrapped") from inner
    except ValueError as exc:
        get_logger("bot.test").error("failed", exc_info=exc, stack_info=True)
    err = stderr_after(capsys)
    assert f"KeyError: '{REDACTED}'" in err
    assert "Stack (most recent call last)" in err


def test_discord_py_authorization_forms_are_redacted_without_being_configured(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging("DEBUG", [])
    log = logging.getLogger("discord.http")
    log.warning("headers: {'Authorization': 'Bot %s'}", "some.unlisted-token_value-1234567890")
    log.warning("Bearer abcdefghijklmnopqrstuvwxyz123456")
    logging.getLogger("discord.client").warning("identify with %s", TOKEN)
    err = stderr_after(capsys)
    assert "some.unlisted-token_value" not in err
    assert f"'Authorization': 'Bot {REDACTED}'" in err
    assert f"Bearer {REDACTED}" in err
    assert f"identify with {REDACTED}" in err


def test_unformattable_arguments_still_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", [TOKEN])
    get_logger("bot.test").info("count %d", TOKEN)
    err = stderr_after(capsys)
    assert "unformattable arguments" in err
    assert "--- Logging error ---" not in err


def test_other_root_handlers_are_protected_too(caplog: pytest.LogCaptureFixture) -> None:
    setup_logging("INFO", [TOKEN])
    with caplog.at_level(logging.INFO):
        logging.getLogger("aiohttp.client").error("url https://x/?t=%s", TOKEN)
    assert TOKEN not in caplog.text
    assert REDACTED in caplog.text


def test_setup_is_idempotent_and_updates_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    first = setup_logging("INFO", ["first-secret"])
    second = setup_logging("warning", [TOKEN])
    root = logging.getLogger()
    assert first is second
    assert root.handlers.count(first) == 1
    assert root.level == logging.WARNING
    get_logger("bot.test").info("hidden")
    get_logger("bot.test").warning("first-secret %s", TOKEN)
    err = stderr_after(capsys)
    assert "hidden" not in err
    assert f"first-secret {REDACTED}" in err  # secrets are replaced, not accumulated


def test_library_loggers_are_kept_quiet() -> None:
    setup_logging("DEBUG", [])
    assert logging.getLogger("bot.anything").getEffectiveLevel() == logging.DEBUG
    assert logging.getLogger("discord").level == logging.INFO
    assert logging.getLogger("discord.http").level == logging.WARNING
    assert logging.getLogger("aiosqlite").level == logging.INFO
    assert logging.getLogger("apscheduler").level == logging.WARNING
    setup_logging("ERROR", [])
    assert logging.getLogger("discord").level == logging.ERROR
    assert logging.getLogger("bot.anything").getEffectiveLevel() == logging.ERROR


def test_bad_level_is_refused() -> None:
    with pytest.raises(ValueError, match="DEBUG, INFO, WARNING, ERROR"):
        setup_logging("LOUD", [])


def test_writes_to_current_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", [])
    get_logger("bot.test").info("to stderr")
    captured = capsys.readouterr()
    assert "to stderr" in captured.err
    assert captured.out == ""


def test_filter_rules() -> None:
    redactor = RedactingFilter(["abc", "", "long-secret", "long-secret-extended"])
    assert redactor.redact("abc long-secret-extended long-secret") == f"abc {REDACTED} {REDACTED}"
    assert redactor.redact("plain text with Bot and Bearer words") == "plain text with Bot and Bearer words"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "a %s", ("long-secret",), None)
    assert redactor.filter(record) is True
    assert (record.getMessage(), record.args) == (f"a {REDACTED}", None)


def test_redact_for_text_printed_outside_logging() -> None:
    assert bot.log.redact(f"Bot {TOKEN}") == f"Bot {REDACTED}"  # token-shaped, even before setup
    setup_logging("INFO", ["plain-secret-value"])
    assert bot.log.redact("error: plain-secret-value rejected") == f"error: {REDACTED} rejected"


# ------------------------------------------------------------------------------- network errors in words

REPR_MARKERS = ("ConnectionKey(", "RequestInfo(", "Error(", "<", "CIMultiDict", "Authorization")


async def _failure(url: str, *, timeout_s: float = 10.0) -> BaseException:
    """Make a real request with the token in its headers, as discord.py does; return what aiohttp raised."""
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        try:
            async with session.get(url, headers={"Authorization": f"Bot {TOKEN}"}) as response:
                response.raise_for_status()
        except Exception as exc:
            return exc
    raise AssertionError(f"{url} did not fail")


def _words(exc: BaseException, host: str) -> str:
    setup_logging("INFO", secrets=[TOKEN])
    text = describe_network_error(exc, host)
    assert "\n" not in text and TOKEN not in text
    for marker in REPR_MARKERS:
        assert marker not in text, f"{marker!r} in {text!r}"
    return text


async def test_refused_connection_in_words() -> None:
    async with BrokenPeers() as peers:
        exc = await _failure(f"http://127.0.0.1:{peers.refused_port}/api")
    host = f"127.0.0.1:{peers.refused_port}"
    assert _words(exc, host) == f"{host} refused the connection (is anything listening on that port?)"


async def test_tls_handshake_with_a_plain_server_in_words() -> None:
    async with BrokenPeers() as peers:
        exc = await _failure(f"https://127.0.0.1:{peers.plain_port}/api")
    text = _words(exc, "127.0.0.1")
    assert text.startswith("TLS handshake with 127.0.0.1 failed (")
    assert "is that port really TLS?" in text


async def test_unresolvable_host_in_words() -> None:
    exc = await _failure(f"https://{UNRESOLVABLE_HOST}/api/v10/users/@me")
    assert _words(exc, UNRESOLVABLE_HOST).startswith(f"could not resolve {UNRESOLVABLE_HOST} (DNS lookup failed: ")


async def test_timeout_in_words() -> None:
    async with BrokenPeers() as peers:
        exc = await _failure(f"http://127.0.0.1:{peers.silent_port}/", timeout_s=0.3)
    assert _words(exc, "slow.example") == "slow.example did not answer in time (timed out)"


async def test_http_401_and_other_statuses_in_words() -> None:
    async with BrokenPeers() as peers:
        exc = await _failure(f"{peers.http_url}/unauthorized/users/@me")
    assert _words(exc, "discord.com") == "discord.com rejected the credentials (401 Unauthorized)"

    class FakeHTTPError(Exception):  # the shape of discord.HTTPException: a `status` attribute
        status = 503

    assert _words(FakeHTTPError("x"), "discord.com") == "discord.com answered HTTP 503 Service Unavailable"


async def test_redirect_loop_in_words_without_the_authorization_header() -> None:
    """aiohttp's TooManyRedirects repr carries the request headers: `Authorization: Bot <token>`."""
    async with BrokenPeers() as peers:
        exc = await _failure(f"{peers.http_url}/loop/users/@me")
    assert TOKEN in repr(exc)  # the hazard is real: printing repr(exc) leaks the token
    assert _words(exc, "discord.com") == "discord.com redirected too many times (a redirect loop)"


def test_unknown_errors_are_named_by_type_and_redacted() -> None:
    setup_logging("INFO", secrets=[OTHER_SECRET])
    text = describe_network_error(ValueError(f"bad frame with {OTHER_SECRET}\nsecond line"), "db:5432")
    assert text == f"ValueError talking to db:5432: bad frame with {REDACTED}"
    assert describe_network_error(RuntimeError(), "x") == "RuntimeError talking to x"
    reset = ConnectionResetError(104, "Connection reset by peer")
    assert describe_network_error(reset, "db:5432") == "db:5432 closed the connection unexpectedly"
    wrapped = RuntimeError("pool failed")
    wrapped.__cause__ = OSError(113, "No route to host")
    assert describe_network_error(wrapped, "db:5432") == "db:5432 is unreachable from here (No route to host)"
