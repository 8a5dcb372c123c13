"""The HTML page: one file with its CSS, its small sorting script and plotly.js inline, so it
opens offline, from a mail attachment or a shared drive, with no server and no CDN.

Every piece of text from the warehouse goes through :func:`esc` (tables, captions) or
:func:`pipelines.report.charts.label` (chart labels); plotly's JSON escapes ``<``, ``>`` and
``/`` itself, so a name cannot close a ``<script>``.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

from pipelines.report import charts
from pipelines.report.data import ReportData

# rows rendered per table; beyond that the table says how many it left out
MAX_TABLE_ROWS = 5000


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def fmt_int(value: int | None) -> str:
    return "–" if value is None else f"{value:,}".replace(",", "\u202f")


def fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def fmt_score(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}"


def fmt_hours(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 1:
        return f"{value * 60:.0f} min"
    if value >= 100:
        return f"{value:,.0f} h".replace(",", "\u202f")
    return f"{value:,.1f} h".replace(",", "\u202f")


# --------------------------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    kind: str  # "text" or "num"
    value: Callable[[dict[str, Any]], Any]  # the sort value (None sorts last)
    show: Callable[[dict[str, Any]], str]  # the cell's HTML (already escaped)
    hint: str = ""


def _meter(rate: float | None) -> str:
    if rate is None:
        return '<span class="muted">–</span>'
    pct = max(0.0, min(1.0, rate)) * 100
    return (
        f'<span class="meter"><span style="width:{pct:.1f}%"></span></span>'
        f'<span class="meter-label">{pct:.0f}%</span>'
    )


def _status(status: Any) -> str:
    text = esc(status or "unknown")
    cls = {"published": "ok", "draft": "warn", "archived": "off"}.get(str(status), "off")
    return f'<span class="badge {cls}">{text}</span>'


def _num(key: str, fmt: Callable[[Any], str] = fmt_int) -> Callable[[dict[str, Any]], str]:
    return lambda r: fmt(r[key])


def _ms_to_h(value: float | None) -> float | None:
    return None if value is None else value / 3_600_000


def _s_to_h(value: float | None) -> float | None:
    return None if value is None else value / 3_600


COURSE_COLUMNS = [
    Column("course_name", "Course", "text", lambda r: r["course_name"], lambda r: esc(r["course_name"])),
    Column("course_status", "Status", "text", lambda r: r["course_status"], lambda r: _status(r["course_status"])),
    Column("learners_with_access", "Can see", "num", lambda r: r["learners_with_access"], _num("learners_with_access"), "learners who can see the course"),
    Column("learners_started", "Started", "num", lambda r: r["learners_started"], _num("learners_started"), "learners with at least one attempt"),
    Column("learners_completed", "Completed", "num", lambda r: r["learners_completed"], _num("learners_completed")),
    Column("completion_rate", "Completed ÷ started", "num", lambda r: r["completion_rate"], lambda r: _meter(r["completion_rate"]), "course completion rate: learners who completed ÷ learners who started"),
    Column("avg_score", "Avg score (%)", "num", lambda r: r["avg_score"], _num("avg_score", fmt_score), "mean of learners' best scores, in percent (0-100), over learners with a score"),
    Column("avg_time", "Avg time", "num", lambda r: _ms_to_h(r["avg_time_spent_ms"]), lambda r: fmt_hours(_ms_to_h(r["avg_time_spent_ms"])), "mean time per learner who started"),
    Column("attempts", "Attempts", "num", lambda r: r["attempts"], _num("attempts")),
]  # fmt: skip

SESSION_COLUMNS = [
    Column("program_session_name", "Program session", "text", lambda r: r["program_session_name"], lambda r: esc(r["program_session_name"])),
    Column("learners_with_access", "Can see", "num", lambda r: r["learners_with_access"], _num("learners_with_access")),
    Column("learners_assigned", "Assigned", "num", lambda r: r["learners_assigned"], _num("learners_assigned")),
    Column("learners_started", "Started", "num", lambda r: r["learners_started"], _num("learners_started")),
    Column("learners_completed", "Completed", "num", lambda r: r["learners_completed"], _num("learners_completed")),
    Column("completion_rate", "Completed ÷ assigned", "num", lambda r: r["completion_rate"], lambda r: _meter(r["completion_rate"]), "program completion rate: learners who completed ÷ learners assigned"),
    Column("avg_score", "Avg score (%)", "num", lambda r: r["avg_score"], _num("avg_score", fmt_score), "mean score in percent (0-100), over learners with a score"),
    Column("avg_time", "Avg time", "num", lambda r: _s_to_h(r["avg_time_spent_s"]), lambda r: fmt_hours(_s_to_h(r["avg_time_spent_s"])), "mean time per assigned learner"),
]  # fmt: skip

GROUP_COLUMNS = [
    Column("group_name", "Group", "text", lambda r: r["group_name"], lambda r: esc(r["group_name"])),
    Column("parent_group_name", "Parent", "text", lambda r: r["parent_group_name"], lambda r: esc(r["parent_group_name"] or "–")),
    Column("members", "Members", "num", lambda r: r["members"], _num("members"), "direct members, any role"),
    Column("active_members", "Active", "num", lambda r: r["active_members"], _num("active_members"), "members with an attempt or a started program"),
    Column("items_visible", "Items visible", "num", lambda r: r["items_visible"], _num("items_visible"), "catalog items and program sessions the group gives"),
    Column("assigned_pairs", "Assigned", "num", lambda r: r["assigned_pairs"], _num("assigned_pairs"), "(member, item) pairs the member is assigned to"),
    Column("completed_pairs", "Completed", "num", lambda r: r["completed_pairs"], _num("completed_pairs")),
    Column("completion_rate", "Completed ÷ assigned", "num", lambda r: r["completion_rate"], lambda r: _meter(r["completion_rate"]), "completed ÷ assigned (member, item) pairs"),
]  # fmt: skip


def _sort_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def render_table(
    table_id: str,
    noun: str,
    columns: Sequence[Column],
    rows: Sequence[dict],
    sorted_by: str | None = None,
) -> str:
    """A sortable table; ``sorted_by`` names the column the rows already come sorted by
    (descending), so its header shows the arrow from the start."""
    shown = rows[:MAX_TABLE_ROWS]
    head = "".join(
        f'<th scope="col" data-key="{c.key}" data-type="{c.kind}" class="{c.kind}"'
        + (' aria-sort="descending"' if c.key == sorted_by else "")
        + (f' title="{esc(c.hint)}"' if c.hint else "")
        + f'><button type="button">{esc(c.title)}<span class="arrow" aria-hidden="true">'
        "</span></button></th>"
        for c in columns
    )
    body = []
    for row in shown:
        cells = "".join(
            f'<td class="{c.kind}" data-value="{esc(_sort_value(c.value(row)))}">{c.show(row)}</td>'
            for c in columns
        )
        body.append(f"<tr>{cells}</tr>")
    note = ""
    if not rows:
        note = f'<p class="note">No {esc(noun)} yet.</p>'
    if len(rows) > len(shown):
        note = (
            f'<p class="note">Showing the first {fmt_int(len(shown))} of {fmt_int(len(rows))} '
            f"{esc(noun)}; query the warehouse for the rest.</p>"
        )
    return (
        f'<div class="table-tools"><input type="search" class="filter" data-table="{table_id}" '
        f'placeholder="Filter {esc(noun)}…" aria-label="Filter {esc(noun)}">'
        f'<span class="count" data-count-for="{table_id}">{fmt_int(len(shown))} {esc(noun)}</span>'
        f'</div><div class="table-wrap"><table id="{table_id}" class="sortable">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>{note}"
    )


# --------------------------------------------------------------------------------------------
# the page
# --------------------------------------------------------------------------------------------


def _figure(fig: go.Figure, div_id: str) -> str:
    """A placeholder div and the figure as JSON; :data:`PLOT_JS` draws it once the whole page is
    parsed, so each chart measures its final grid cell (not a half-built page)."""
    spec = pio.to_json(fig, validate=False, pretty=False)  # escapes <, > and / for <script>
    height = int(fig.layout.height or 360)
    return (
        f'<div id="{div_id}" class="plot" style="height:{height}px"></div>'
        f'<script type="application/json" id="{div_id}-spec">{spec}</script>'
    )


def _chart_card(
    title: str, caption: str, fig: go.Figure | None, div_id: str, *, wide: bool = False
) -> str:
    body = (
        _figure(fig, div_id)
        if fig is not None
        else f'<div id="{div_id}" class="empty">No data yet: nothing to chart.</div>'
    )
    cls = "card chart wide" if wide else "card chart"
    return (
        f'<section class="{cls}"><h3>{esc(title)}</h3><p class="caption">{esc(caption)}</p>'
        f"{body}</section>"
    )


def _kpi(title: str, value: str, sub: str) -> str:
    return (
        f'<div class="kpi"><div class="kpi-title">{esc(title)}</div>'
        f'<div class="kpi-value">{esc(value)}</div><div class="kpi-sub">{esc(sub)}</div></div>'
    )


def _kpis(data: ReportData) -> str:
    published = sum(1 for c in data.courses if c["course_status"] == "published")
    with_learners = sum(1 for s in data.program_sessions if s["learners_assigned"])
    active_share = data.active_learners / data.learners if data.learners else None
    per_active = data.total_hours / data.active_learners if data.active_learners else None
    return "".join(
        [
            _kpi("Learners", fmt_int(data.learners), "users, deleted ones excluded"),
            _kpi(
                "Active learners",
                fmt_int(data.active_learners),
                f"{fmt_pct(active_share)} started a course or program",
            ),
            _kpi("Courses", fmt_int(len(data.courses)), f"{fmt_int(published)} published"),
            _kpi(
                "Program sessions",
                fmt_int(len(data.program_sessions)),
                f"{fmt_int(with_learners)} with learners assigned",
            ),
            _kpi("Paths", fmt_int(data.paths), "learning paths"),
            _kpi(
                "Course completion of started",
                fmt_pct(data.course_completion_rate),
                f"completed ÷ started: {fmt_int(data.course_pairs_completed)} of "
                f"{fmt_int(data.course_pairs_started)} learner-course starts",
            ),
            _kpi(
                "Program completion of assigned",
                fmt_pct(data.program_completion_rate),
                "completed ÷ assigned: learners assigned to a program session",
            ),
            _kpi(
                "Hours learned",
                fmt_hours(data.total_hours),
                f"{fmt_hours(per_active)} per active learner",
            ),
        ]
    )


def render_page(
    data: ReportData, *, title: str, top: int, generated_at: dt.datetime | None = None
) -> str:
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    has_courses = any(c["learners_started"] or c["learners_with_access"] for c in data.courses)
    has_sessions = any(s["learners_assigned"] for s in data.program_sessions)
    has_activity = bool(data.started_per_day or data.completed_per_day)
    has_hours = any(h > 0 for h in data.hours_per_learner)
    has_groups = any(g["members"] for g in data.groups)

    n = top
    cards_courses = _chart_card(
        f"Course completion of started (top {n} courses by learners who started)",
        "Completion rate of a course = learners who completed it ÷ learners who started it. "
        "Bars: learners who completed, are in progress, or can see the course but never "
        "opened it.",
        charts.course_completion(data.courses, n) if has_courses else None,
        "chart-course-completion",
    ) + _chart_card(
        f"Time spent per course (top {n} by hours)",
        "Total hours spent by all learners in each course; hover for the mean per learner.",
        charts.course_hours(data.courses, n) if has_hours else None,
        "chart-course-hours",
    )
    cards_activity = (
        _chart_card(
            "Learner activity per week",
            "Courses started (a learner's first activity on a course) and first completions, per "
            "ISO week. A week still in progress is dotted.",
            charts.activity(data.started_per_day, data.completed_per_day) if has_activity else None,
            "chart-activity",
            wide=True,
        )
        + _chart_card(
            "Time spent per learner",
            "Learners by total hours spent in courses and program sessions.",
            charts.hours_distribution(data.hours_per_learner) if has_hours else None,
            "chart-hours",
        )
        + _chart_card(
            f"Program completion of assigned (top {n} sessions by learners assigned)",
            "Completion rate of a program session = learners who completed it ÷ learners "
            "assigned to it, started or not. Bars: assigned learners who completed, started, "
            "or have not started the session.",
            charts.session_completion(data.program_sessions, n) if has_sessions else None,
            "chart-session-completion",
        )
    )
    cards_access = (
        _chart_card(
            f"Visibility coverage per group (top {n} by members)",
            "Direct members (active ones in colour), the items the group makes visible, and "
            "the completion of its members' assignments (completed ÷ assigned pairs).",
            charts.group_coverage(data.groups, n) if has_groups else None,
            "chart-groups",
            wide=True,
        )
        + _chart_card(
            "Visible, assigned, completed",
            "Learner × item pairs by item type: what learners can see, what they are assigned "
            "to, and what they completed.",
            charts.access_funnel(data.visibility) if data.visibility else None,
            "chart-access",
        )
        + _chart_card(
            "Why learners can see items",
            "Grants by reason: an assignment, a group's catalog, or a program the group is "
            "invited to. One pair can have several.",
            charts.access_reasons(data.grants) if data.grants else None,
            "chart-reasons",
        )
    )

    tables = (
        '<section class="card wide" id="courses"><h3>Courses</h3>'
        '<p class="caption">Every course, every status. Click a column to sort.</p>'
        + render_table("courses-table", "courses", COURSE_COLUMNS, data.courses, "learners_started")
        + '</section><section class="card wide" id="programs"><h3>Program sessions</h3>'
        + render_table(
            "sessions-table",
            "program sessions",
            SESSION_COLUMNS,
            data.program_sessions,
            "learners_assigned",
        )
        + '</section><section class="card wide" id="groups"><h3>Groups</h3>'
        '<p class="caption">Direct members only: a subgroup\'s members do not count in its '
        "parent.</p>"
        + render_table("groups-table", "groups", GROUP_COLUMNS, data.groups, "members")
        + "</section>"
    )

    as_of = (
        data.data_as_of.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        if data.data_as_of
        else "unknown"
    )
    latest = (
        data.latest_activity.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        if data.latest_activity
        else "none"
    )
    generated = generated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    warnings = "".join(f'<p class="warning">{esc(w)}</p>' for w in data.warnings)

    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="learning360 report">
<title>{esc(title)} · {esc(data.dataset_name)}</title>
<style>{CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script>
</head>
<body>
<header class="top">
  <div class="brand"><span class="logo" aria-hidden="true">360</span>
    <div><h1>{esc(title)}</h1>
    <p class="subtitle">Dataset <code>{esc(data.dataset_name)}</code> on {esc(data.destination)}
    · <span id="loaded-at">data loaded at {esc(as_of)}</span>
    · <span id="latest-activity">latest learner activity {esc(latest)}</span></p></div></div>
  <nav><a href="#overview">Overview</a><a href="#section-courses">Courses</a>
    <a href="#section-activity">Activity</a><a href="#section-access">Groups &amp; access</a>
    <a href="#courses">Tables</a></nav>
</header>
<main>
{warnings}
<section id="overview" class="kpis">{_kpis(data)}</section>
<h2 id="section-courses">Courses</h2>
<div class="grid">{cards_courses}</div>
<h2 id="section-activity">Activity and programs</h2>
<div class="grid">{cards_activity}</div>
<h2 id="section-access">Groups and access</h2>
<div class="grid">{cards_access}</div>
<h2 id="section-tables">Tables</h2>
<div class="grid">{tables}</div>
</main>
<footer>
  Generated {esc(generated)} by <code>learning360 report</code> from dataset
  <code>{esc(data.dataset_name)}</code> ({esc(data.destination)}), last completed load
  {esc(as_of)}, latest learner activity {esc(latest)}. Counts exclude deleted users and unfinished loads; definitions in
  docs/models.md.
</footer>
<script type="application/json" id="plotly-config">{json.dumps(charts.PLOTLY_CONFIG)}</script>
<script>{PLOT_JS}</script>
<script>{SORT_JS}</script>
</body>
</html>
"""


CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --bg:#f6f7fb; --card:#fff;
  --primary:#4f46e5; --ok:#059669; --warn:#f59e0b; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:14px/1.5 Inter, system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:.92em;
  background:#eef0f6; padding:1px 5px; border-radius:4px; }
header.top { background:#fff; border-bottom:1px solid var(--line); padding:18px 32px 0;
  position:relative; }
.brand { display:flex; gap:14px; align-items:center; }
.logo { display:inline-flex; width:44px; height:44px; border-radius:12px; align-items:center;
  justify-content:center; font-weight:700; color:#fff; letter-spacing:-.5px;
  background:linear-gradient(135deg, #4f46e5, #0ea5e9); flex:none; }
h1 { font-size:22px; margin:0; letter-spacing:-.2px; }
.subtitle { margin:2px 0 0; color:var(--muted); }
nav { display:flex; gap:22px; margin-top:14px; overflow-x:auto; }
nav a { color:var(--muted); text-decoration:none; padding:8px 0 10px; border-bottom:2px solid
  transparent; white-space:nowrap; font-weight:500; }
nav a:hover { color:var(--primary); border-bottom-color:var(--primary); }
main { max-width:1480px; margin:0 auto; padding:20px 32px 8px; }
h2 { font-size:15px; text-transform:uppercase; letter-spacing:.06em; color:var(--muted);
  margin:28px 0 12px; font-weight:600; }
.kpis { display:grid; grid-template-columns:repeat(8, minmax(0, 1fr)); gap:12px; }
@media (max-width: 1280px) { .kpis { grid-template-columns:repeat(4, minmax(0, 1fr)); } }
@media (max-width: 560px) { .kpis { grid-template-columns:repeat(2, minmax(0, 1fr)); } }
.kpi { background:var(--card); border:1px solid var(--line); border-radius:12px;
  padding:14px 16px; box-shadow:0 1px 2px rgba(16,24,40,.04); }
.kpi-title { color:var(--muted); font-size:12px; font-weight:600; text-transform:uppercase;
  letter-spacing:.04em; }
.kpi-value { white-space:nowrap; font-size:26px; font-weight:700; letter-spacing:-.5px; margin:4px 0 2px;
  font-variant-numeric:tabular-nums; }
.kpi-sub { color:var(--muted); font-size:12px; }
.grid { display:grid; grid-template-columns:repeat(auto-fit, minmax(min(100%, 520px), 1fr));
  gap:16px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:12px;
  padding:16px 18px 12px; box-shadow:0 1px 2px rgba(16,24,40,.04); min-width:0; }
.card.wide { grid-column:1 / -1; }
.card h3 { margin:0; font-size:15px; }
.caption { margin:2px 0 10px; color:var(--muted); font-size:12.5px; }
.empty { padding:48px 0; text-align:center; color:var(--muted); border:1px dashed var(--line);
  border-radius:8px; }
.warning { background:#fffbeb; border:1px solid #fde68a; padding:8px 12px; border-radius:8px; }
.table-tools { display:flex; align-items:center; gap:12px; margin:6px 0 10px; }
.filter { flex:0 1 320px; padding:7px 10px; border:1px solid var(--line); border-radius:8px;
  font:inherit; }
.filter:focus { outline:2px solid #c7d2fe; border-color:var(--primary); }
.count { color:var(--muted); font-size:12.5px; }
.table-wrap { max-height:560px; overflow:auto; border:1px solid var(--line); border-radius:8px; }
table { width:100%; border-collapse:collapse; font-variant-numeric:tabular-nums; }
thead th { position:sticky; top:0; background:#f9fafb; z-index:1; border-bottom:1px solid
  var(--line); padding:0; text-align:left; white-space:nowrap; }
th button { all:unset; cursor:pointer; display:block; padding:9px 12px; font-weight:600;
  font-size:12.5px; color:#374151; width:100%; box-sizing:border-box; }
th button:focus-visible { outline:2px solid var(--primary); outline-offset:-2px; }
th.num button { text-align:right; }
th .arrow::after { content:"↕"; color:#c0c4cc; margin-left:5px; font-size:11px; }
th[aria-sort=ascending] .arrow::after { content:"▲"; color:var(--primary); }
th[aria-sort=descending] .arrow::after { content:"▼"; color:var(--primary); }
td { padding:7px 12px; border-bottom:1px solid #f1f2f4; vertical-align:middle; }
td.num { text-align:right; white-space:nowrap; }
td.text { max-width:420px; overflow-wrap:anywhere; }
tbody tr:hover { background:#f8f9ff; }
.meter { display:inline-block; width:64px; height:6px; background:#eef0f4; border-radius:3px;
  vertical-align:middle; margin-right:8px; overflow:hidden; }
.meter > span { display:block; height:100%; background:var(--ok); border-radius:3px; }
.meter-label { display:inline-block; min-width:34px; }
.badge { display:inline-block; padding:1px 8px; border-radius:999px; font-size:11.5px;
  font-weight:600; }
.badge.ok { background:#d1fae5; color:#065f46; }
.badge.warn { background:#fef3c7; color:#92400e; }
.badge.off { background:#f1f2f4; color:#4b5563; }
.muted { color:var(--muted); }
.note { color:var(--muted); font-size:12.5px; }
footer { max-width:1480px; margin:12px auto 32px; padding:16px 32px 0; color:var(--muted);
  font-size:12.5px; border-top:1px solid var(--line); }
@media (max-width: 640px) {
  header.top, main, footer { padding-left:14px; padding-right:14px; }
  .kpi-value { font-size:22px; }
}
@media print {
  body { background:#fff; }
  .card, .kpi { box-shadow:none; break-inside:avoid; }
  .table-wrap { max-height:none; overflow:visible; }
  .filter, nav { display:none; }
}
"""

# Draws every chart from its JSON spec, after the page is parsed (this script is last in <body>).
PLOT_JS = r"""
(function () {
  "use strict";
  if (!window.Plotly) { return; }
  var config = JSON.parse(document.getElementById("plotly-config").textContent);
  document.querySelectorAll("div.plot").forEach(function (div) {
    var spec = JSON.parse(document.getElementById(div.id + "-spec").textContent);
    Plotly.newPlot(div, spec.data, spec.layout, config);
  });
})();
"""

# Click a header to sort (numbers descending first, text ascending first; again to reverse;
# empty values always last). The filter box hides rows that do not contain its text.
# A link can carry a sort: #sort=<table id>:<column key>[:asc|desc], e.g.
# report.html#sort=courses-table:completion_rate:asc (the test uses this to check sorting).
SORT_JS = r"""
(function () {
  "use strict";
  function cellValue(row, index, type) {
    var raw = row.cells[index].getAttribute("data-value");
    if (raw === null || raw === "") { return null; }
    if (type === "num") { var n = parseFloat(raw); return isNaN(n) ? null : n; }
    return raw;
  }
  var collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
  function sortTable(th, dir) {
    var table = th.closest("table");
    var headers = Array.prototype.slice.call(th.parentNode.children);
    var index = headers.indexOf(th);
    var type = th.getAttribute("data-type") || "text";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var sign = dir === "ascending" ? 1 : -1;
    rows.sort(function (a, b) {
      var x = cellValue(a, index, type), y = cellValue(b, index, type);
      if (x === null && y === null) { return 0; }
      if (x === null) { return 1; }
      if (y === null) { return -1; }
      var c = type === "num" ? x - y : collator.compare(x, y);
      return sign * c;
    });
    var fragment = document.createDocumentFragment();
    rows.forEach(function (row) { fragment.appendChild(row); });
    body.appendChild(fragment);
    headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
  }
  function onClick(th) {
    var current = th.getAttribute("aria-sort");
    var first = th.getAttribute("data-type") === "num" ? "descending" : "ascending";
    var dir = current ? (current === "ascending" ? "descending" : "ascending") : first;
    sortTable(th, dir);
  }
  document.querySelectorAll("table.sortable thead th").forEach(function (th) {
    th.querySelector("button").addEventListener("click", function () { onClick(th); });
  });
  document.querySelectorAll("input.filter").forEach(function (input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    var counter = document.querySelector('[data-count-for="' + table.id + '"]');
    var noun = counter ? counter.textContent.replace(/^[\d\s\u202f]+/, "") : "";
    var total = table.tBodies[0].rows.length;
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase(), shown = 0;
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        var hit = !q || row.textContent.toLowerCase().indexOf(q) !== -1;
        row.hidden = !hit;
        if (hit) { shown += 1; }
      });
      if (counter) { counter.textContent = (q ? shown + " of " + total : total) + " " + noun; }
    });
  });
  function sortFromHash() {
    var m = /^#sort=([\w-]+):([\w-]+)(?::(asc|desc))?$/.exec(window.location.hash);
    if (!m) { return; }
    var table = document.getElementById(m[1]);
    var th = table && table.querySelector('thead th[data-key="' + m[2] + '"]');
    if (!th) { return; }
    var want = m[3] === "asc" ? "ascending" : m[3] === "desc" ? "descending" : null;
    var button = th.querySelector("button");
    button.click();  // the same path as a user's click
    if (want && th.getAttribute("aria-sort") !== want) { button.click(); }
    document.body.setAttribute("data-sorted-by", m[1] + ":" + m[2] + ":" +
      th.getAttribute("aria-sort"));
  }
  sortFromHash();
  window.addEventListener("hashchange", sortFromHash);
})();
"""
