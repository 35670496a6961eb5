# syntax=docker/dockerfile:1
# paperbot: a Discord bot for Hugging Face Daily Papers.
#
#   docker build -t paperbot .
#   docker run -d --name paperbot -e DISCORD_TOKEN=... -v paperbot-data:/data paperbot
#
# Two stages: the builder installs the locked runtime dependencies (requirements/runtime.txt: exact versions,
# hashes checked, never the dev extra) into a virtualenv, then the project as a wheel; the runtime stage copies
# only that virtualenv and runs as an unprivileged user, keeping the catalogue in the /data volume.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------- builder
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

WORKDIR /src
RUN python -m venv /opt/venv

# Dependencies first, from the lockfile alone, so a source edit does not re-download them.
COPY requirements/runtime.txt ./requirements/runtime.txt
RUN pip install --require-hashes --requirement requirements/runtime.txt

# Then the project itself, built as a wheel and installed without touching the dependencies again.
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN pip wheel --no-deps --wheel-dir /wheels . \
    && pip install --no-deps /wheels/paperbot-*.whl \
    && pip check

# ---------------------------------------------------------------------------------------------- runtime
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="paperbot" \
      org.opencontainers.image.description="A Discord bot that brings Hugging Face Daily Papers into your server" \
      org.opencontainers.image.licenses="MIT"

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PAPERBOT_DATABASE__PATH=/data/papers.db

# A fixed, unprivileged uid/gid, so a bind-mounted /data can be chowned to 10001 on the host.
RUN groupadd --system --gid 10001 paperbot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin paperbot \
    && mkdir -p /data /app \
    && chown 10001:10001 /data

COPY --from=builder /opt/venv /opt/venv

# `paperbot` reads ./config.toml when present: mount one at /app/config.toml (read-only), or configure
# everything with PAPERBOT_* environment variables and DISCORD_TOKEN.
WORKDIR /app
USER 10001:10001
VOLUME ["/data"]

# `paperbot run` exits 0 on SIGTERM (docker stop), after closing the gateway and the database.
STOPSIGNAL SIGTERM
# Alive = the heartbeat file the bot rewrites every 5 s from its event loop is fresh and every gateway shard is
# connected (`paperbot health`: exit 0, or 1 with one line why: loop stuck, Discord lost, not running). It
# reads only that file. The start period covers start-up: a first index build, one IDENTIFY per 5 s per shard.
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 CMD ["paperbot", "health"]
CMD ["paperbot", "run"]
