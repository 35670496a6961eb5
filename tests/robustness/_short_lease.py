"""`python -m tests.robustness._short_lease SECONDS ARGS…`: `paperbot ARGS…` with a digest post lease of SECONDS.

Why: a killed process's digest post is taken over once its lease has run out (`bot.digest.service.LEASE`,
2 minutes, renewed every quarter of it). No setting changes it, so a test that kills a `paperbot run` and
waits for another process to take over would wait over two minutes. This launcher shortens the one default the
runtime uses (`DigestService(lease=…)`) and is otherwise `python -m bot` unchanged: same composition root,
same renewals, same takeover path, just on a shorter clock.
"""

from __future__ import annotations

import datetime as dt
import sys

from bot.cli import main
from bot.digest.service import DigestService


def _shorten_lease(seconds: float) -> None:
    defaults = DigestService.__init__.__kwdefaults__
    assert defaults is not None and "lease" in defaults, "DigestService(lease=…) is gone: update this launcher"
    defaults["lease"] = dt.timedelta(seconds=seconds)


if __name__ == "__main__":
    _shorten_lease(float(sys.argv[1]))
    raise SystemExit(main(sys.argv[2:]))
