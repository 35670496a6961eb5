"""Targets (issue 5) and the one printed table, both computed from the results dict the phases produced."""

from __future__ import annotations

from typing import Any

SEARCH_SYSTEMS = (
    ("paperbot", "serve-current", "paperbot (Catalogue.search, tantivy index)"),
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
        ("tantivy-py baseline index build", "tantivy-build", "index_bytes"),
    ]
    for label, phase, size_key in rows:
        data = _get(results, phase) or {}
        size = (data.get("db_bytes") or 0) + (data.get("index_bytes") or 0) if size_key is None else data.get(size_key)
        note = ""
        lines.append(
            f"{(label + note):<44}{_f(data.get('rate'), 0):>10}{_ratio(data.get('rate'), floor_rate):>10}"
            f"{_f(data.get('seconds')):>10}{_f(data.get('cpu_seconds')):>8}{_f(data.get('rss_peak_mb'), 0):>13}"
            f"{_f(data.get('rss_anon_peak_mb'), 0):>9}{_f(size / 1e6 if size else None, 0):>10}"
        )
    tantivy_p95 = _get(results, "serve-tantivy", "search", "all", "p95")
    fts_p95 = _get(results, "serve-fts5", "search", "all", "p95")
    lines.append("")
    lines.append(
        f"{'search, top 10 (ms)':<44}{'p50':>8}{'p95':>8}{'p99':>8}{'vs tantivy':>11}{'vs fts5':>9}{'RSS MB':>8}"
        f"{'anon':>6}"
    )
    for _key, phase, label in SEARCH_SYSTEMS:
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
        cells = "".join(f"{_f(_get(results, phase, 'search', 'classes', c, 'p95'), 2):>10}" for c in CLASSES)
        lines.append(f"{key:<30}{cells}")
    lines.append("")
    lines.append(f"{'lookups (ms)':<44}{'p50':>8}{'p95':>8}{'p99':>8}")
    for key in ("current",):
        for metric in ("autocomplete", "abstract_by_id", "search_newest_common"):
            s = _get(results, f"serve-{key}", metric) or {}
            lines.append(
                f"{key + ' ' + metric:<44}{_f(s.get('p50'), 2):>8}{_f(s.get('p95'), 2):>8}{_f(s.get('p99'), 2):>8}"
            )
    lines.append("")
    lines.append("(peak RSS = VmHWM, which counts memory-mapped index pages; anon = the process's own memory)")
    lines.append("")
    lines.append(f"{'target (issue 5)':<34}{'variant':>10}{'value':>12}{'limit':>12}  met")
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
