"""The report's charts, as plotly figures (plotly.graph_objects only: no pandas needed).

Text that plotly draws (axis labels, hover text) goes through :func:`label`: plotly.js reads a
few HTML tags (``<b>``, ``<br>``, ``<a>``) in labels, so names are HTML-escaped first (plotly
shows ``&lt;`` as ``<``), cut to a readable length, and made unique, because two courses with
the same name would otherwise share one bar on a category axis.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Iterable, Sequence
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

# one palette for the whole page (the CSS uses the same colours)
INK = "#1f2937"
MUTED = "#6b7280"
GRID = "#e5e7eb"
PRIMARY = "#4f46e5"
COMPLETED = "#059669"
IN_PROGRESS = "#f59e0b"
NOT_STARTED = "#cbd5e1"
SECONDARY = "#0ea5e9"
GRANT_COLOURS = {"assignment": PRIMARY, "group_catalog": SECONDARY, "group_program": "#a855f7"}
GRANT_NAMES = {
    "assignment": "Assignment",
    "group_catalog": "Group catalog",
    "group_program": "Group program",
}
ITEM_NAMES = {"course": "Courses", "program_session": "Program sessions", "path": "Paths"}

FONT = "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
MAX_LABEL = 42

PLOTLY_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d", "toggleSpikelines"],
    "toImageButtonOptions": {"format": "png", "scale": 2},
}


def label(text: Any, limit: int = MAX_LABEL) -> str:
    """A name as plotly should draw it: cut to ``limit`` characters, then HTML-escaped."""
    value = " ".join(str(text if text is not None else "").split())
    if len(value) > limit:
        value = value[: limit - 1].rstrip() + "…"
    return html.escape(value, quote=False)


def unique_labels(names: Iterable[Any], limit: int = MAX_LABEL) -> list[str]:
    """Labels for a category axis: equal labels get a ``(2)``, ``(3)`` suffix."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        base = label(name, limit)
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base} ({seen[base]})")
    return out


def _layout(
    fig: go.Figure, *, height: int, legend: bool = True, top: int = 34, **extra: Any
) -> go.Figure:
    """Shared look. The top margin leaves room for plotly's toolbar (always shown on devices
    without hover); legends go below the plot, across the whole figure width."""
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin={"l": 8, "r": 16, "t": top, "b": 8},
        font={"family": FONT, "size": 12, "color": INK},
        hoverlabel={"font": {"family": FONT, "size": 12}, "bgcolor": "white"},
        showlegend=legend,
        legend={
            "orientation": "h",
            "xref": "container",
            "x": 0.01,
            "xanchor": "left",
            "yref": "container",
            "y": 0.01,
            "yanchor": "bottom",
            "font": {"size": 12},
            "traceorder": "normal",
        },
        modebar={"bgcolor": "rgba(255,255,255,0.8)", "color": "#9ca3af", "activecolor": PRIMARY},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        **extra,
    )
    if legend:
        fig.update_layout(margin={"b": 44})
    fig.update_xaxes(gridcolor=GRID, zerolinecolor=GRID, automargin=True)
    fig.update_yaxes(gridcolor=GRID, zerolinecolor=GRID, automargin=True)
    return fig


def _bar_height(bars: int) -> int:
    return max(240, 110 + 26 * bars)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def _stacked_progress(
    names: Sequence[Any],
    completed: Sequence[int],
    in_progress: Sequence[int],
    not_started: Sequence[int],
    hover: Sequence[str],
    not_started_name: str,
) -> go.Figure:
    y = unique_labels(names)
    fig = go.Figure()
    for trace_name, values, colour in (
        ("Completed", completed, COMPLETED),
        ("In progress", in_progress, IN_PROGRESS),
        (not_started_name, not_started, NOT_STARTED),
    ):
        fig.add_trace(
            go.Bar(
                name=trace_name,
                y=y,
                x=list(values),
                orientation="h",
                marker={"color": colour, "line": {"width": 0}},
                customdata=list(hover),
                hovertemplate="%{customdata}<br>" + trace_name + ": %{x}<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack", bargap=0.28)
    fig.update_yaxes(autorange="reversed", showgrid=False)
    fig.update_xaxes(title_text="learners")
    fig = _layout(fig, height=_bar_height(len(y)) + 10, top=64)
    # long names leave a narrow plot area: a legend just above it, starting at its left edge
    # (a slightly negative x lets plotly use the whole width before wrapping), below the toolbar
    fig.update_layout(
        legend={"xref": "paper", "x": -0.001, "yref": "paper", "y": 1.0, "yanchor": "bottom"},
        margin={"b": 8},
    )
    return fig


def course_completion(courses: Sequence[dict[str, Any]], top: int) -> go.Figure:
    """Top courses by learners who started them: completed / in progress / has access only."""
    rows = [c for c in courses if c["learners_started"] or c["learners_with_access"]][:top]
    return _stacked_progress(
        [c["course_name"] for c in rows],
        [c["learners_completed"] for c in rows],
        [c["learners_started"] - c["learners_completed"] for c in rows],
        [max(0, c["learners_with_access"] - c["learners_started"]) for c in rows],
        [
            f"<b>{label(c['course_name'], 80)}</b><br>started {c['learners_started']}, "
            f"completed ÷ started {_pct(c['completion_rate'])}"
            for c in rows
        ],
        "Not started",
    )


def session_completion(sessions: Sequence[dict[str, Any]], top: int) -> go.Figure:
    """Top program sessions by assigned learners: completed / started / assigned only."""
    rows = [s for s in sessions if s["learners_assigned"]][:top]
    return _stacked_progress(
        [s["program_session_name"] for s in rows],
        [s["learners_completed"] for s in rows],
        [max(0, s["learners_started"] - s["learners_completed"]) for s in rows],
        [max(0, s["learners_assigned"] - s["learners_started"]) for s in rows],
        [
            f"<b>{label(s['program_session_name'], 80)}</b><br>assigned "
            f"{s['learners_assigned']}, completed ÷ assigned {_pct(s['completion_rate'])}"
            for s in rows
        ],
        "Not started",
    )


def weekly(per_day: dict[dt.date, int]) -> dict[dt.date, int]:
    """Day counts summed into ISO weeks (keyed by the Monday)."""
    out: dict[dt.date, int] = {}
    for day, n in per_day.items():
        monday = day - dt.timedelta(days=day.weekday())
        out[monday] = out.get(monday, 0) + n
    return out


def activity(
    started: dict[dt.date, int], completed: dict[dt.date, int], as_of: dt.date | None = None
) -> go.Figure:
    """Courses started (first activity) and first completions per week, gaps filled with 0.
    The last week is drawn dotted when it is not over yet (on ``as_of``, default: the latest
    day with data), so a half-counted week does not read as a drop."""
    weeks_started, weeks_completed = weekly(started), weekly(completed)
    weeks = sorted(set(weeks_started) | set(weeks_completed))
    axis: list[dt.date] = []
    if weeks:
        current = weeks[0]
        while current <= weeks[-1]:
            axis.append(current)
            current += dt.timedelta(days=7)
    last_day = as_of or max([*started, *completed], default=None)
    partial = bool(axis) and last_day is not None and last_day < axis[-1] + dt.timedelta(days=6)
    full = axis[:-1] if partial else axis
    fig = go.Figure()
    for name, series, colour in (
        ("Courses started", weeks_started, PRIMARY),
        ("Courses completed", weeks_completed, COMPLETED),
    ):
        line = {"color": colour, "width": 2}
        fig.add_trace(
            go.Scatter(
                name=name,
                x=[d.isoformat() for d in full],
                y=[series.get(d, 0) for d in full],
                mode="lines",
                line=line,
                legendgroup=name,
                hovertemplate=name + ": %{y}<extra></extra>",
            )
        )
        if partial:
            tail = axis[-2:]
            fig.add_trace(
                go.Scatter(
                    name=name + " (week in progress)",
                    x=[d.isoformat() for d in tail],
                    y=[series.get(d, 0) for d in tail],
                    mode="lines",
                    line={**line, "dash": "dot"},
                    legendgroup=name,
                    showlegend=False,
                    hovertemplate=name + " so far: %{y}<extra></extra>",
                )
            )
    fig.update_xaxes(
        type="date",
        showgrid=False,
        hoverformat="week of %d %b %Y",
        rangeselector={
            "buttons": [
                {"count": 3, "label": "3m", "step": "month", "stepmode": "backward"},
                {"count": 1, "label": "1y", "step": "year", "stepmode": "backward"},
                {"step": "all", "label": "all"},
            ],
            "x": 0,
            "xanchor": "left",
            "y": 1.02,
            "yanchor": "bottom",
            "bgcolor": "#f3f4f6",
            "activecolor": "#c7d2fe",
            "font": {"size": 11},
        },
    )
    fig.update_yaxes(title_text="per week", rangemode="tozero")
    return _layout(fig, height=360, hovermode="x unified", top=40)


def _nice_step(upper: float, max_bins: int = 24) -> float:
    for step in (0.25, 0.5, 1, 2, 2.5, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if upper / step <= max_bins:
            return step
    return math.ceil(upper / max_bins)


def _fmt_hours(value: float) -> str:
    return f"{value:g}"


def hours_distribution(hours: Sequence[float]) -> go.Figure:
    """How many learners spent how long learning: fixed-width bins up to the 98th percentile,
    then one open-ended bin, so a few heavy learners do not flatten the chart."""
    fig = go.Figure()
    values = sorted(h for h in hours if h is not None and h >= 0)
    if values:
        p98 = values[min(len(values) - 1, int(len(values) * 0.98))]
        step = _nice_step(max(p98, 0.25))
        bins = max(1, math.ceil(p98 / step)) if p98 > 0 else 1
        counts = [0] * (bins + 1)
        for h in values:
            counts[min(int(h // step), bins)] += 1
        x = [f"{_fmt_hours(i * step)}–{_fmt_hours((i + 1) * step)}" for i in range(bins)]
        x.append(f"≥ {_fmt_hours(bins * step)}")
        if counts[-1] == 0:
            counts, x = counts[:-1], x[:-1]
        fig.add_trace(
            go.Bar(
                x=x,
                y=counts,
                marker={"color": SECONDARY, "line": {"width": 0}},
                hovertemplate="%{x} h: %{y} learners<extra></extra>",
                name="learners",
            )
        )
    fig.update_layout(bargap=0.08)
    fig.update_xaxes(title_text="hours per learner", showgrid=False)
    fig.update_yaxes(title_text="learners")
    return _layout(fig, height=360, legend=False)


def course_hours(courses: Sequence[dict[str, Any]], top: int) -> go.Figure:
    """Total hours learners spent in each course (top N), with the mean per learner on hover."""
    rows = []
    for c in courses:
        avg_ms = c["avg_time_spent_ms"] or 0.0
        total_h = avg_ms * c["learners_started"] / 3_600_000
        if total_h > 0:
            rows.append((total_h, avg_ms / 3_600_000, c))
    rows.sort(key=lambda r: -r[0])
    rows = rows[:top]
    fig = go.Figure(
        go.Bar(
            y=unique_labels(c["course_name"] for _, _, c in rows),
            x=[round(total, 1) for total, _, _ in rows],
            orientation="h",
            marker={"color": PRIMARY, "line": {"width": 0}},
            customdata=[
                f"<b>{label(c['course_name'], 80)}</b><br>{c['learners_started']} learners who "
                f"started, "
                f"{avg:.1f} h each on average"
                for _, avg, c in rows
            ],
            hovertemplate="%{customdata}<br>total: %{x:,.1f} h<extra></extra>",
            name="hours",
        )
    )
    fig.update_layout(bargap=0.28)
    fig.update_yaxes(autorange="reversed", showgrid=False)
    fig.update_xaxes(title_text="hours, all learners")
    return _layout(fig, height=_bar_height(len(rows)), legend=False)


def group_coverage(groups: Sequence[dict[str, Any]], top: int) -> go.Figure:
    """Largest groups side by side: members (active in colour), items visible, completion."""
    rows = [g for g in groups if g["members"]][:top]
    y = unique_labels((g["group_name"] for g in rows), 36)
    hover = [
        f"<b>{label(g['group_name'], 80)}</b><br>{g['members']} members, "
        f"{g['active_members']} active<br>{g['items_visible']} items visible<br>"
        f"completed ÷ assigned {_pct(g['completion_rate'])} ({g['completed_pairs']} of "
        f"{g['assigned_pairs']} assigned)"
        for g in rows
    ]
    fig = make_subplots(
        rows=1,
        cols=3,
        shared_yaxes=True,
        horizontal_spacing=0.04,
        column_widths=[0.4, 0.3, 0.3],
        subplot_titles=("Members", "Items visible", "Completed ÷ assigned"),
    )
    common = {"y": y, "orientation": "h", "customdata": hover}
    bars = (  # (name, x, colour, column, in the legend)
        ("Active members", [g["active_members"] for g in rows], PRIMARY, 1, True),
        (
            "Inactive members",
            [g["members"] - g["active_members"] for g in rows],
            "#c7d2fe",
            1,
            True,
        ),
        ("Items visible", [g["items_visible"] for g in rows], SECONDARY, 2, False),
        ("Completed ÷ assigned", [g["completion_rate"] for g in rows], COMPLETED, 3, False),
    )
    for name, x, colour, col, legend in bars:
        trace = go.Bar(
            name=name,
            x=x,
            marker={"color": colour},
            hovertemplate="%{customdata}<extra></extra>",
            **common,
            **({} if legend else {"showlegend": False}),
        )
        fig.add_trace(trace, row=1, col=col)
    fig.update_layout(barmode="stack", bargap=0.28)
    fig.update_yaxes(autorange="reversed", showgrid=False)
    fig.update_xaxes(tickformat=".0%", range=[0, 1], row=1, col=3)
    fig.update_annotations(font={"size": 12, "color": MUTED})
    fig = _layout(fig, height=_bar_height(len(rows)) + 20, top=44)
    fig.update_annotations(yshift=4)
    return fig


def access_funnel(visibility: dict[str, dict[str, int]]) -> go.Figure:
    """Learner × item pairs per item type: visible, assigned, completed."""
    types = [t for t in ITEM_NAMES if t in visibility] + sorted(
        t for t in visibility if t not in ITEM_NAMES
    )
    x = [ITEM_NAMES.get(t, label(t)) for t in types]
    fig = go.Figure()
    for key, name, colour in (
        ("visible", "Visible", NOT_STARTED),
        ("assigned", "Assigned", IN_PROGRESS),
        ("completed", "Completed", COMPLETED),
    ):
        fig.add_trace(
            go.Bar(
                name=name,
                x=x,
                y=[visibility[t][key] for t in types],
                marker={"color": colour, "line": {"width": 0}},
                hovertemplate="%{x}: %{y:,} " + name.lower() + " learner-item pairs<extra></extra>",
            )
        )
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05)
    fig.update_yaxes(title_text="learner × item pairs")
    fig.update_xaxes(showgrid=False)
    return _layout(fig, height=320)


def access_reasons(grants: dict[tuple[str, str], int]) -> go.Figure:
    """Why learners can see items: grants per item type, by grant type (a pair can have several)."""
    types = [t for t in ITEM_NAMES if any(k[0] == t for k in grants)]
    types += sorted({k[0] for k in grants} - set(types))
    grant_types = [g for g in GRANT_NAMES if any(k[1] == g for k in grants)]
    grant_types += sorted({k[1] for k in grants} - set(grant_types))
    y = [ITEM_NAMES.get(t, label(t)) for t in types]
    fig = go.Figure()
    for g in grant_types:
        fig.add_trace(
            go.Bar(
                name=GRANT_NAMES.get(g, label(g)),
                y=y,
                x=[grants.get((t, g), 0) for t in types],
                orientation="h",
                marker={"color": GRANT_COLOURS.get(g, MUTED), "line": {"width": 0}},
                hovertemplate="%{y}: %{x:,} grants<extra>"
                + GRANT_NAMES.get(g, label(g))
                + "</extra>",
            )
        )
    fig.update_layout(barmode="stack", bargap=0.35)
    fig.update_yaxes(autorange="reversed", showgrid=False)
    fig.update_xaxes(title_text="grants (learner × item × reason)")
    return _layout(fig, height=320)
