"""Run `python -m bot …` as a real subprocess from async tests (the loopback servers share the event loop)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Finished:
    """A finished `python -m bot` run."""

    code: int
    out: str
    err: str


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The current environment without any paperbot/Discord settings, plus `extra`."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PAPERBOT_", "DISCORD_"))}
    return base | dict(extra)


async def start_bot(*args: str, env: Mapping[str, str], cwd: Path) -> asyncio.subprocess.Process:
    """Start `python -m bot ARGS` with pipes for stdout/stderr."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        env=clean_env(env),
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def run_bot_cli(*args: str, env: Mapping[str, str], cwd: Path, limit_s: float = 120.0) -> Finished:
    """Run `python -m bot ARGS` to completion."""
    process = await start_bot(*args, env=env, cwd=cwd)
    out, err = await asyncio.wait_for(process.communicate(), limit_s)
    assert process.returncode is not None
    return Finished(process.returncode, out.decode(), err.decode())


async def wait_for(condition: Callable[[], bool], *, deadline_s: float, what: str, step_s: float = 0.002) -> None:
    """Poll `condition` until true; for observing another process, where no event can be awaited."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not condition():
        if loop.time() > end:
            raise AssertionError(f"timed out after {deadline_s:g} s waiting for {what}")
        await asyncio.sleep(step_s)


async def wait_until_exited(process: asyncio.subprocess.Process, stop: Awaitable[object]) -> bool:
    """Wait for `stop` or the process's exit, whichever comes first; True if the process exited by itself."""
    exited = asyncio.ensure_future(process.wait())
    stopper = asyncio.ensure_future(stop)
    done, _ = await asyncio.wait({exited, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    return exited in done
