"""Shared test setup: the hypothesis CI profile. Feature fixtures live in each test folder's conftest."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow], max_examples=200
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# The loopback Hugging Face / arXiv server fixture (`fixture_server`), the store fixtures (`catalogue`,
# `filled`, `search`, …) and the real PostgreSQL ones (`postgres_url`, `postgres_database`, `postgres_server`:
# tests/postgres.py) are available to every test.
pytest_plugins = ["tests.fixture_server", "tests.stores", "tests.postgres"]
