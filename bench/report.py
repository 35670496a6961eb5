"""Targets (issue 5) and the one printed table, both computed from the results dict the phases produced."""

from __future__ import annotations

from typing import Any

SEARCH_SYSTEMS = (
    ("paperbot", "serve-current", "paperbot (Catalogue.search, tantivy index)"),
    ("postgres", "serve-postgres", "paperbot, catalogue on PostgreSQL"),
    ("fts5", "serve-fts5", "raw FTS5 BM25 (naive design)"),
    ("tantivy", "serve-tantivy", "tantivy-py (query parser)"),
    ("naive", "serve-naive", "naive scan, arxiv-sanity-lite style"),
)
CLASSES = ("rare", "common", "two-word", "phrase", "prefix", "mixed", "no-hit")


def _get(results: dict[str, Any], *path: str) -> Any:
    node: Any = results["phases"]
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each issue-5 target for each paperbot variant: value, limit, met."""
    out: list[dict[str, Any]] = []
    tantivy_p95 = _get(results, "serve-tantivy", "search", "all", "p95")
    floor_rate = _get(results, "floor", "rate")
    for variant in ("current",):
        serve, imp = f"serve-{variant}", f"import-{variant}"
        checks = [
            (
                "search p95 (ms)",
                _get(results, serve, "search", "all", "p95"),
                2 * tantivy_p95 + 5 if tantivy_p95 is not None else None,
                "<=",
            ),
            ("autocomplete p95 (ms)", _get(results, serve, "autocomplete", "p95"), 10.0, "<="),
            ("abstract by id p95 (ms)", _get(results, serve, "abstract_by_id", "p95"), 2.0, "<="),
            ("import rate (rec/s)", _get(results, imp, "rate"), floor_rate, ">="),
            ("serving peak RSS (MB)", _get(results, serve, "rss_peak_mb"), 250.0, "<="),
            ("import peak RSS (MB)", _get(results, imp, "rss_peak_mb"), 500.0, "<="),
        ]
        for name, value, limit, op in checks:
            met = None
            if value is not None and limit is not None:
                met = value <= limit if op == "<=" else value >= limit
            out.append({"variant": variant, "target": name, "value": value, "limit": limit, "op": op, "met": met})
    out.extend(_postgres_targets(results))
    return out


def _postgres_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 9's PostgreSQL targets, against SQLite's figures in the same run: import at least half SQLite's
    rate; search, autocomplete and lookup p95 no worse than SQLite's (the index is local on both)."""
    if _get(results, "serve-postgres") is None:
        return []
    sqlite_rate = _get(results, "import-current", "rate")
    checks = [
        ("import rate (rec/s)", _get(results, "import-postgres", "rate"), sqlite_rate and sqlite_rate / 2, ">="),
    ]
    for name, path in (
        ("search p95 (ms)", ("search", "all", "p95")),
        ("autocomplete p95 (ms)", ("autocomplete", "p95")),
        ("abstract by id p95 (ms)", ("abstract_by_id", "p95")),
    ):
        checks.append((name, _get(results, "serve-postgres", *path), _get(results, "serve-current", *path), "<="))
    out = []
    for name, value, limit, op in checks:
        met = None if value is None or limit is None else (value <= limit if op == "<=" else value >= limit)
        out.append({"variant": "postgres", "target": name, "value": value, "limit": limit, "op": op, "met": met})
    return out


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float | int) and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _ratio(value: Any, base: Any) -> str:
    if value is None or not base:
        return "-"
    return f"{value / base:.2f}x"


def _reps(results: dict[str, Any]) -> str:
    reps = results.get("repetitions") or {}
    return ", ".join(f"{k.removeprefix('serve-')} {v}" for k, v in reps.items()) or "-"


def _postgres_import_lines(results: dict[str, Any]) -> list[str]:
    """The PostgreSQL import's server CPU and what the change log's lock cost, under the import table."""
    data = _get(results, "import-postgres")
    if data is None:
        skipped = results.get("postgres_skipped")
        return [f"(PostgreSQL phases skipped: {skipped})"] if skipped else []
    append = data.get("append_ms") or {}
    idle = data.get("writer_idle_ms") or {}
    during = data.get("writer_during_import_ms") or {}
    return [
        f"  PostgreSQL server CPU during the import: {_f(data.get('server_cpu_seconds'))} s "
        f"(client {_f(data.get('cpu_seconds'))} s); searchable after {_f(data.get('searchable_seconds'))} s",
        f"  change-log lock + append per batch (ms): p50 {_f(append.get('p50'), 2)}, p95 {_f(append.get('p95'), 2)},"
        f" max {_f(append.get('max'), 2)} over {append.get('n', 0)} batches",
        f"  another process's one-paper write (ms), idle / during the import: p50 {_f(idle.get('p50'), 2)} / "
        f"{_f(during.get('p50'), 2)}, p95 {_f(idle.get('p95'), 2)} / {_f(during.get('p95'), 2)}, "
        f"max {_f(idle.get('max'), 2)} / {_f(during.get('max'), 2)} ({during.get('n', 0)} writes during)",
    ]


def render(results: dict[str, Any]) -> str:
    """The benchmark table as plain text (ms unless stated)."""
    lines: list[str] = []
    n = results["papers"]
    lines.append(
        f"paperbot bench — {n:,} synthetic papers, seed {results['seed']}, "
        f"reps/query {_reps(results)}, {results['cpu_count']} CPUs"
        + ("  [SMOKE: not a measurement]" if results.get("smoke") else "")
    )
    floor_rate = _get(results, "floor", "rate")
    lines.append("")
    lines.append(
        f"{'import':<44}{'rec/s':>10}{'vs floor':>10}{'seconds':>10}{'CPU s':>8}{'peak RSS MB':>13}{'anon MB':>9}"
        f"{'size MB':>10}"
    )
    rows = [
        ("floor (parse + 1 FTS5 table, 1 txn)", "floor", "db_bytes"),
        ("paperbot (SQLite rows + tantivy index)", "import-current", None),
        ("paperbot (PostgreSQL rows + tantivy index)", "import-postgres", None),
        ("tantivy-py baseline index build", "tantivy-build", "index_bytes"),
    ]
    for label, phase, size_key in rows:
        if _get(results, phase) is None and phase == "import-postgres":
            continue
        data = _get(results, phase) or {}
        size = (data.get("db_bytes") or 0) + (data.get("index_bytes") or 0) if size_key is None else data.get(size_key)
        note = ""
        lines.append(
            f"{(label + note):<44}{_f(data.get('rate'), 0):>10}{_ratio(data.get('rate'), floor_rate):>10}"
            f"{_f(data.get('seconds')):>10}{_f(data.get('cpu_seconds')):>8}{_f(data.get('rss_peak_mb'), 0):>13}"
            f"{_f(data.get('rss_anon_peak_mb'), 0):>9}{_f(size / 1e6 if size else None, 0):>10}"
        )
    lines.extend(_postgres_import_lines(results))
    tantivy_p95 = _get(results, "serve-tantivy", "search", "all", "p95")
    fts_p95 = _get(results, "serve-fts5", "search", "all", "p95")
    lines.append("")
    lines.append(
        f"{'search, top 10 (ms)':<44}{'p50':>8}{'p95':>8}{'p99':>8}{'vs tantivy':>11}{'vs fts5':>9}{'RSS MB':>8}"
        f"{'anon':>6}"
    )
    for _key, phase, label in SEARCH_SYSTEMS:
        if _get(results, phase) is None:
            continue
        s = _get(results, phase, "search", "all") or {}
        if phase == "serve-naive":
            label += f" @{results['naive_max']:,}"
        lines.append(
            f"{label:<44}{_f(s.get('p50'), 2):>8}{_f(s.get('p95'), 2):>8}{_f(s.get('p99'), 2):>8}"
            f"{_ratio(s.get('p95'), tantivy_p95):>11}{_ratio(s.get('p95'), fts_p95):>9}"
            f"{_f(_get(results, phase, 'rss_peak_mb'), 0):>8}{_f(_get(results, phase, 'rss_anon_peak_mb'), 0):>6}"
        )
    lines.append("")
    lines.append(f"{'search p95 by query class (ms)':<30}" + "".join(f"{c:>10}" for c in CLASSES))
    for key, phase, _label in SEARCH_SYSTEMS:
        if _get(results, phase) is None:
            continue
        cells = "".join(f"{_f(_get(results, phase, 'search', 'classes', c, 'p95'), 2):>10}" for c in CLASSES)
        lines.append(f"{key:<30}{cells}")
    lines.append("")
    lines.append(f"{'lookups (ms)':<44}{'p50':>8}{'p95':>8}{'p99':>8}")
    for key in ("current", "postgres"):
        if _get(results, f"serve-{key}") is None:
            continue
        for metric in ("autocomplete", "abstract_by_id", "search_newest_common"):
            s = _get(results, f"serve-{key}", metric) or {}
            lines.append(
                f"{key + ' ' + metric:<44}{_f(s.get('p50'), 2):>8}{_f(s.get('p95'), 2):>8}{_f(s.get('p99'), 2):>8}"
            )
    lines.append("")
    lines.append("(peak RSS = VmHWM, which counts memory-mapped index pages; anon = the process's own memory)")
    lines.append("")
    lines.append(f"{'target (issues 5, 9)':<34}{'variant':>10}{'value':>12}{'limit':>12}  met")
    for t in results["targets"]:
        met = {True: "yes", False: "NO", None: "?"}[t["met"]]
        lines.append(
            f"{t['target']:<34}{t['variant']:>10}{_f(t['value'], 2):>12}"
            f"{(t['op'] + ' ' + _f(t['limit'], 2)):>12}  {met}"
        )
    loads = [v for phase in results["phases"].values() for v in phase.get("loadavg_1m", [])]
    if loads:
        lines.append("")
        lines.append(
            f"machine load (1-min average) during the run: {min(loads):.1f}–{max(loads):.1f} on "
            f"{results['cpu_count']} CPUs"
            + ("  — other work was running: timings are pessimistic" if max(loads) > 1.5 else "")
        )
    return "\n".join(lines)
