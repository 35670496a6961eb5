"""The `paperbot` command line: one argparse tree, one place that turns errors into exit codes.

Exit status: 0 success, 1 runtime failure (PaperbotError), 2 bad usage or bad configuration. Errors are one
line each on stderr; a traceback only with `--debug`. Heavy modules (discord.py, the digest, the importer)
are imported inside their commands so `paperbot search` stays quick and works without them.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from bot import __version__
from bot.config import Settings, load_settings, redacted
from bot.errors import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, ConfigError, PaperbotError, PaperNotFound
from bot.log import redact, setup_logging
from bot.models import Paper, SearchResults
from bot.render.plain import abstract_text, paper_lines
from bot.sources import open_sources
from bot.stores import open_stores

log = logging.getLogger("bot.cli")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"expected a number from 1 to 100, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree; `--config` and `--debug` are accepted before or after the subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", type=Path, default=argparse.SUPPRESS, help="TOML config file")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")

    parser = argparse.ArgumentParser(
        prog="paperbot", description="Hugging Face Daily Papers in Discord.", parents=[common]
    )
    parser.add_argument("--version", action="version", version=f"paperbot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", parents=[common], help="run the Discord bot until SIGINT/SIGTERM")
    # Kept as text: the config validates them like [discord] shard_ids/shard_count, with the same messages.
    run.add_argument(
        "--shard-ids", metavar="IDS", help="comma-separated shards this process runs (overrides [discord] shard_ids)"
    )
    run.add_argument(
        "--shard-count", metavar="N", help="total shards over all processes (overrides [discord] shard_count)"
    )

    health = commands.add_parser(
        "health", parents=[common], help="exit 0 if the bot running with this config is alive and connected, else 1"
    )
    health.add_argument(
        "--max-age", type=float, default=None, metavar="SECONDS", help="oldest heartbeat that counts as alive (30)"
    )

    ingest = commands.add_parser("ingest", parents=[common], help="fetch Daily Papers lists into the catalogue")
    when = ingest.add_mutually_exclusive_group()
    when.add_argument("--date", type=_date, help="one list date (UTC), YYYY-MM-DD")
    when.add_argument("--since", type=_date, help="first list date of a range")
    ingest.add_argument("--until", type=_date, help="last list date of a range (default: today, UTC)")
    ingest.add_argument(
        "--refetch", action="store_true", help="fetch every day again, also lists stored after their day was over"
    )

    importer = commands.add_parser("import", parents=[common], help="bulk imports")
    kinds = importer.add_subparsers(dest="kind", required=True, metavar="KIND")
    snapshot = kinds.add_parser("arxiv-snapshot", parents=[common], help="stream an arXiv metadata snapshot")
    snapshot.add_argument("file", type=Path, help="arxiv-metadata-oai-snapshot.json (or .gz)")

    search = commands.add_parser("search", parents=[common], help="search the catalogue")
    search.add_argument("query")
    search.add_argument("--limit", type=_positive, default=10)
    search.add_argument("--sort", choices=("relevance", "upvotes", "newest"), default="relevance")
    search.add_argument("--json", action="store_true")
    search.add_argument(
        "--mode", choices=("keyword", "semantic", "hybrid"), help="how to rank (default: [search] mode)"
    )

    similar = commands.add_parser("similar", parents=[common], help="papers most like one paper")
    similar.add_argument("title_or_id")
    similar.add_argument("--limit", type=_positive, default=10)
    similar.add_argument("--json", action="store_true")

    abstract = commands.add_parser("abstract", parents=[common], help="show one paper's abstract")
    abstract.add_argument("title_or_id")
    abstract.add_argument("--json", action="store_true")

    digest = commands.add_parser(
        "digest", parents=[common], help="render a channel's digest (--dry-run), or show where each stands (status)"
    )
    digest.add_argument("action", nargs="?", choices=("status",), help="status: last post, next post, failures")
    digest.add_argument("--dry-run", action="store_true", help="print instead of posting")
    digest.add_argument("--date", type=_date, help="the list date (default: what would be posted now)")
    digest.add_argument("--channel", type=int, help="a configured channel id (default: all)")
    digest.add_argument("--json", action="store_true", help="status as JSON")

    db = commands.add_parser("db", parents=[common], help="catalogue maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="SUBCOMMAND")
    stats = db_commands.add_parser("stats", parents=[common], help="paper count, days covered, size")
    stats.add_argument("--json", action="store_true")
    db_commands.add_parser("embed", parents=[common], help="give every paper without a vector its vector")
    copy = db_commands.add_parser("copy", parents=[common], help="copy the catalogue into another backend")
    copy.add_argument("--to", required=True, metavar="URL_OR_PATH", help="a PostgreSQL URL or an SQLite file path")

    config = commands.add_parser("config", parents=[common], help="configuration")
    config_commands = config.add_subparsers(dest="config_command", required=True, metavar="SUBCOMMAND")
    config_commands.add_parser("check", parents=[common], help="validate and print the effective config")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `paperbot` console script."""
    args = build_parser().parse_args(argv)
    debug = bool(getattr(args, "debug", False))
    try:
        settings = load_settings(getattr(args, "config", None), overrides=_overrides(args))
    except ConfigError as exc:
        for problem in exc.problems:
            print(redact(f"paperbot: config: {problem}"), file=sys.stderr)
        return EXIT_USAGE

    setup_logging("DEBUG" if debug else settings.log.level, secrets=settings.secrets())
    handler = _HANDLERS[args.command]
    try:
        return handler(args, settings)
    except KeyboardInterrupt:
        print("paperbot: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ConfigError as exc:
        for problem in exc.problems:
            print(redact(f"paperbot: config: {problem}"), file=sys.stderr)
        return EXIT_USAGE
    except PaperbotError as exc:
        if debug:
            log.exception("failed")
        print(redact(f"paperbot: {exc}"), file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # the last line of defence: one line, traceback only on request
        if debug:
            log.exception("unexpected error")
        print(
            redact(f"paperbot: unexpected error: {type(exc).__name__}: {exc} (run with --debug for details)"),
            file=sys.stderr,
        )
        return EXIT_FAILURE


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Settings given as command-line flags (they beat the file and the environment), TOML-shaped."""
    discord: dict[str, str] = {}
    if getattr(args, "shard_ids", None) is not None:
        discord["shard_ids"] = args.shard_ids
    if getattr(args, "shard_count", None) is not None:
        discord["shard_count"] = args.shard_count
    return {"discord": discord} if discord else {}


def _run_async(work: Callable[[], Awaitable[int]]) -> int:
    return asyncio.run(_call(work))


async def _call(work: Callable[[], Awaitable[int]]) -> int:
    return await work()


# ---- commands ---------------------------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime import run

    return run(settings)


def _cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    """One line on stdout, exit 0 when healthy, 1 when not (Docker's HEALTHCHECK reads both)."""
    from bot.health import DEFAULT_MAX_AGE_S, check, heartbeat_path

    verdict = check(heartbeat_path(settings), max_age_s=args.max_age or DEFAULT_MAX_AGE_S)
    print(verdict.line)
    return EXIT_OK if verdict.healthy else EXIT_FAILURE


def _cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    source = settings.config_file
    print(f"# configuration is valid (file: {source or 'none, defaults + environment'})")
    print(render_toml(redacted(settings)), end="")
    return EXIT_OK


def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from bot.ingest import default_days, ingest_range

    if args.date:
        since = until = args.date
    elif args.since:
        since, until = args.since, args.until or dt.datetime.now(dt.UTC).date()
    else:
        if args.until:
            print("paperbot: --until needs --since", file=sys.stderr)
            return EXIT_USAGE
        since, until = default_days()
    if since > until:
        print(f"paperbot: --since {since} is after --until {until}", file=sys.stderr)
        return EXIT_USAGE

    async def work() -> int:
        started = asyncio.get_running_loop().time()
        async with open_stores(settings, role="cli") as stores, open_sources(settings) as sources:
            catalogue = stores.catalogue
            with _DayProgress(since, until, enabled=sys.stderr.isatty()) as progress:
                # A range resumes (skips lists stored as final); one explicit --date is always fetched.
                refetch = args.refetch or args.date is not None
                report = await ingest_range(since, until, catalogue, sources, on_day=progress.advance, refetch=refetch)
            stats = await catalogue.stats()
        elapsed = asyncio.get_running_loop().time() - started
        landed = len(report.days) - len(report.failed)
        total = (until - since).days + 1
        if report.failed:
            # One line for a failed ingest: what failed first and how much; the log has every day's detail.
            first = report.failed[0]
            gave_up = f", then gave up: {report.aborted}" if report.aborted else ""
            print(
                f"paperbot: ingest failed for {len(report.failed)} of {total} day(s){gave_up}; "
                f"first {first.day}: {first.error}",
                file=sys.stderr,
            )
            return EXIT_FAILURE
        skipped = f" ({len(report.skipped)} already stored, not fetched again)" if report.skipped else ""
        print(
            f"ingested {landed} of {total} day(s){skipped}: {report.listed} listed papers, "
            f"{report.added} new list entries in {elapsed:.1f}s; catalogue has {stats.papers} papers",
            file=sys.stderr,
        )
        return EXIT_OK

    return _run_async(work)


def _cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from bot.importer import import_snapshot

    if not args.file.is_file():
        print(f"paperbot: {args.file}: no such file", file=sys.stderr)
        return EXIT_USAGE

    async def work() -> int:
        async with open_stores(settings, role="cli") as stores:
            report = await import_snapshot(args.file, stores.catalogue, progress=sys.stderr.isatty())
        print(f"paperbot: {report}", file=sys.stderr)
        return EXIT_OK

    return _run_async(work)


def _cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    async def work() -> int:
        async with open_stores(settings, role="cli") as stores:
            results = await stores.search.search(args.query, limit=args.limit, sort=args.sort, mode=args.mode)
        if args.json:
            _print_json([paper_json(p) for p in results.papers])
            return EXIT_OK
        for line in search_notes(results):
            print(line, file=sys.stderr)
        if not results.papers:
            print(f"No papers match {args.query!r}. Try fewer or different words.")
            return EXIT_OK
        if results.matched == "any":
            print("No paper has all of those words; showing papers with any of them.\n")
        sys.stdout.write(paper_lines(results.papers))
        return EXIT_OK

    return _run_async(work)


def _cmd_similar(args: argparse.Namespace, settings: Settings) -> int:
    from bot.lookup import lookup_paper

    async def work() -> int:
        async with open_stores(settings, role="cli") as stores, open_sources(settings) as sources:
            try:
                paper = await lookup_paper(args.title_or_id, stores.search, sources)
            except PaperNotFound:
                print(f"paperbot: no paper found for {args.title_or_id!r}", file=sys.stderr)
                return EXIT_FAILURE
            results = await stores.search.similar(paper, limit=args.limit)
        if args.json:
            _print_json([paper_json(p) for p in results.papers])
            return EXIT_OK
        for line in search_notes(results):
            print(line, file=sys.stderr)
        print(f"Papers like “{paper.title}” ({paper.id}):\n")
        sys.stdout.write(paper_lines(results.papers))
        return EXIT_OK if results.papers or results.notice is None else EXIT_FAILURE

    return _run_async(work)


def _cmd_abstract(args: argparse.Namespace, settings: Settings) -> int:
    from bot.lookup import lookup_paper

    async def work() -> int:
        async with open_stores(settings, role="cli") as stores, open_sources(settings) as sources:
            try:
                paper = await lookup_paper(args.title_or_id, stores.search, sources)
            except PaperNotFound:
                print(f"paperbot: no paper found for {args.title_or_id!r}", file=sys.stderr)
                return EXIT_FAILURE
        if args.json:
            _print_json(paper_json(paper, full=True))
        else:
            sys.stdout.write(abstract_text(paper))
        return EXIT_OK

    return _run_async(work)


def _cmd_digest(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "status":
        return _digest_status(args, settings)
    if not args.dry_run:
        print(
            "paperbot: digest needs --dry-run (print a post) or status (where each subscription stands)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    from bot.digest.dry_run import dry_run

    async def work() -> int:
        async with open_stores(settings, role="cli") as stores:
            text = await dry_run(settings, stores.catalogue, args.date, args.channel)
        print(text, end="" if text.endswith("\n") else "\n")
        return EXIT_OK

    return _run_async(work)


def _digest_status(args: argparse.Namespace, settings: Settings) -> int:
    """Each subscription's last post, next post and failure, read from the catalogue (the bot need not run)."""
    from bot.digest.schedule import utc_now
    from bot.digest.status import channel_statuses, subscription_status
    from bot.render.status import status_json, status_text

    async def work() -> int:
        async with open_stores(settings, role="cli") as stores:
            found = await channel_statuses(stores.catalogue, settings, utc_now())
        statuses = [subscription_status(s) for s in found if args.channel in (None, s.subscription.channel_id)]
        if args.json:
            _print_json(status_json(statuses))
        else:
            sys.stdout.write(status_text(statuses))
        return EXIT_OK

    return _run_async(work)


def _cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    if args.db_command == "copy":
        from bot.db_copy import run_copy

        return run_copy(args.to, settings)
    if args.db_command == "embed":
        from bot.db_embed import run_embed

        return run_embed(settings)

    async def work() -> int:
        async with open_stores(settings, role="cli") as stores:
            stats = await stores.catalogue.stats()
            location = stores.catalogue.location
            embedded = await stores.search.embedded()
        data = {
            "backend": stats.backend,
            "embedded": embedded,
            "papers": stats.papers,
            "days": stats.days,
            "first_day": stats.first_day.isoformat() if stats.first_day else None,
            "last_day": stats.last_day.isoformat() if stats.last_day else None,
            "db_bytes": stats.db_bytes,
        }
        if args.json:
            _print_json(data)
        else:
            span = f"{data['first_day']} to {data['last_day']}" if stats.days else "none yet"
            print(
                f"papers:   {stats.papers} ({embedded} with a vector)\ndays:     {stats.days} ({span})\n"
                f"database: {location} "
                f"({stats.db_bytes / 1_048_576:.1f} MiB)"
            )
        return EXIT_OK

    return _run_async(work)


_HANDLERS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "run": _cmd_run,
    "health": _cmd_health,
    "config": _cmd_config,
    "ingest": _cmd_ingest,
    "import": _cmd_import,
    "search": _cmd_search,
    "similar": _cmd_similar,
    "abstract": _cmd_abstract,
    "digest": _cmd_digest,
    "db": _cmd_db,
}


# ---- output -----------------------------------------------------------------------------------------------


def search_notes(results: SearchResults) -> list[str]:
    """The lines a reader of search results should see first: a corrected typo, why the ranking degraded."""
    notes = [f"Did you mean: {results.corrected_query}"] if results.corrected_query else []
    return notes + ([results.notice] if results.notice else [])


def paper_json(paper: Paper, *, full: bool = False) -> dict[str, Any]:
    """The `--json` shape of a paper: id, title, authors, published, upvotes, url (and more); `full` adds the
    abstract and every known field."""
    data: dict[str, Any] = {
        "id": paper.id,
        "title": paper.title,
        "authors": list(paper.authors),
        "published": paper.published.isoformat() if paper.published else None,
        "upvotes": paper.upvotes,
        "url": paper.url,
        "arxiv_url": paper.arxiv_url,
    }
    if full:
        data |= {
            "abstract": paper.abstract,
            "pdf_url": paper.pdf_url,
            "num_comments": paper.num_comments,
            "github_repo": paper.github_repo,
            "github_stars": paper.github_stars,
            "project_page": paper.project_page,
            "organization": paper.organization,
            "thumbnail": paper.thumbnail,
            "ai_summary": paper.ai_summary,
            "ai_keywords": list(paper.ai_keywords) if paper.ai_keywords is not None else None,
            "categories": list(paper.categories) if paper.categories is not None else None,
        }
    else:
        data["ai_summary"] = paper.ai_summary
    return data


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def render_toml(data: dict[str, Any], prefix: str = "") -> str:
    """Render nested settings as TOML-style text (tables, arrays of tables) for `config check`."""
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict) and not _is_table_list(v)}
    lines = [f"[{prefix}]"] if prefix and scalars else []
    lines += [f"{key} = {_toml_value(value)}" for key, value in scalars.items()]
    text = "\n".join(lines) + ("\n\n" if lines else "")
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            text += render_toml(value, name)
        elif _is_table_list(value):
            for item in value:
                text += f"[[{name}]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in item.items()) + "\n"
    return text


def _toml_value(value: object) -> str:
    """A TOML value: JSON's spelling for scalars and lists, inline tables for tables inside a table list."""
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{key} = {_toml_value(item)}" for key, item in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False, default=str)


def _is_table_list(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


class _DayProgress:
    """A rich progress bar over the days of a range, shown only on a terminal."""

    def __init__(self, since: dt.date, until: dt.date, *, enabled: bool) -> None:
        self._total = (until - since).days + 1
        self._enabled = enabled and self._total > 1
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _DayProgress:
        if self._enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("ingest {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("", total=self._total)
        return self

    def advance(self, report: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, description=str(report.day))

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
