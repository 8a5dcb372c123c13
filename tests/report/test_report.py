"""`learning360 report`: numbers, escaping and exit codes in Python, then the page in a real
headless Chromium: the charts are drawn with data, and the tables sort."""

from __future__ import annotations

import argparse
import datetime as dt
import html
import os
import re
import shutil
import subprocess
import uuid
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import dlt
import pytest

from emulator import Company
from pipelines.models.runner import build_models
from pipelines.report import ReportError, add_arguments, read_report_data, run, write_report
from pipelines.report.charts import label
from tests.expected import expected_learner_course_stats, expected_learner_program_stats
from tests.report.conftest import HOSTILE_NAME, sync_company

# set to a path (e.g. docs/report.png) to keep the test's screenshot
SCREENSHOT_ENV = "LEARNING360_REPORT_SCREENSHOT"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--virtual-time-budget=5000",
]


def parse_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(list(argv))


def sql_rows(pipeline: dlt.Pipeline, sql: str) -> list[tuple[Any, ...]]:
    with pipeline.sql_client() as client:
        return list(client.execute_sql(sql.format(ds=pipeline.dataset_name)) or [])


@pytest.fixture(scope="module")
def report(warehouse: dlt.Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_report(warehouse, tmp_path_factory.mktemp("report") / "out" / "report.html")


# --------------------------------------------------------------------------------------------
# Python side
# --------------------------------------------------------------------------------------------


def test_numbers_match_the_company(warehouse: dlt.Pipeline, company: Company) -> None:
    truth = company.truth()
    data = read_report_data(warehouse)
    assert data.learners == sum(1 for u in truth["users"] if not u["deleted"])
    assert len(data.courses) == len(truth["courses"])
    assert len(data.program_sessions) == len(truth["program_sessions"])
    assert len(data.groups) == len(truth["groups"])
    assert data.paths == len(truth["paths"])
    # the derived tables say the same
    [(started, completed)] = sql_rows(
        warehouse,
        "SELECT COUNT(*), SUM(CASE WHEN is_completed THEN 1 ELSE 0 END) "
        "FROM {ds}.learner_course_stats",
    )
    assert data.course_pairs_started == started
    assert data.course_pairs_completed == completed
    assert data.course_completion_rate == pytest.approx(completed / started)
    assert sum(data.started_per_day.values()) == started
    assert sum(data.completed_per_day.values()) == completed
    [(active,)] = sql_rows(
        warehouse,
        "SELECT COUNT(DISTINCT user_id) FROM (SELECT user_id FROM {ds}.learner_course_stats "
        "UNION ALL SELECT user_id FROM {ds}.learner_program_stats WHERE is_started) t",
    )
    assert data.active_learners == active > 0
    [(hours,)] = sql_rows(
        warehouse,
        "SELECT (SELECT SUM(total_time_spent_ms) FROM {ds}.learner_course_stats) / 3600000.0 "
        "+ (SELECT SUM(time_spent_s) FROM {ds}.learner_program_stats) / 3600.0",
    )
    assert data.total_hours == pytest.approx(float(hours))
    assert set(data.visibility) <= {"course", "program_session", "path"}
    assert data.grants and all(n > 0 for n in data.grants.values())
    assert data.data_as_of is not None
    # the latest activity in the data, computed from the truth: the last activity of an attempt
    # or a program completion, whichever is later (the models' population: no deleted users)
    latest = max(
        [r["last_activity_at"] for r in expected_learner_course_stats(truth).values()]
        + [r["completed_at"] for r in expected_learner_program_stats(truth).values()],
        key=lambda t: t or dt.datetime.min.replace(tzinfo=dt.UTC),
    )
    assert data.latest_activity == latest
    assert data.latest_activity < data.data_as_of


def test_page_is_self_contained_and_escaped(report: Path, warehouse: dlt.Pipeline) -> None:
    page = report.read_text(encoding="utf-8")
    # no CDN, no external script, stylesheet or font: it opens offline
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", page, re.I)
    assert 'src="https://cdn.plot.ly' not in page
    assert page.count("Plotly.newPlot(div") == 1  # our loader, once
    assert page.count("<script") == page.count("</script>")
    # plotly.js itself is inline, once
    assert page.count("plotly.js v") >= 1
    assert len(re.findall(r'<script type="text/javascript">/\*\*', page)) <= 1
    # the hostile name never appears raw: escaped in tables, \u003c-escaped in chart JSON
    assert HOSTILE_NAME not in page
    assert "<img src=x" not in page
    assert "</script><b>" not in page
    assert html.escape(HOSTILE_NAME) in page
    # footer: generated timestamp and dataset name
    footer = page[page.index("<footer>") :]
    assert re.search(r"Generated \d{4}-\d\d-\d\d \d\d:\d\d UTC", footer)
    assert f"<code>{warehouse.dataset_name}</code>" in footer


def test_run_writes_the_file_and_says_where(
    warehouse: dlt.Pipeline, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    assert (
        run(parse_args("--output", str(out), "--top", "5", "--title", "Acme <L&D>"), warehouse) == 0
    )
    assert f"wrote {out}" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert "<h1>Acme &lt;L&amp;D&gt;</h1>" in page
    assert "top 5 courses by learners who started" in page
    assert not list(tmp_path.glob(".r.html.*"))  # the temp file was renamed, not left behind


def test_defaults() -> None:
    args = parse_args()
    assert args.output == "learning360-report.html"
    assert args.top == 15


def test_missing_duckdb_file_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipelines.run import make_pipeline

    missing = tmp_path / "nope.duckdb"
    pipeline = make_pipeline(pipelines_dir=str(tmp_path / "p"), duckdb_path=str(missing))
    assert run(parse_args("--output", str(tmp_path / "r.html")), pipeline) == 2
    err = capsys.readouterr().err
    assert err.startswith("learning360 report failed: no DuckDB file at")
    assert len(err.strip().splitlines()) == 1
    assert not missing.exists()  # we did not create an empty warehouse
    assert not (tmp_path / "r.html").exists()


def test_no_models_is_a_config_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pipeline = dlt.pipeline(
        pipeline_name="report_no_models",
        pipelines_dir=str(tmp_path / "p"),
        destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
        dataset_name="raw_only",
    )
    pipeline.run([dlt.resource([{"_id": "u1", "deleted": False}], name="users")])
    with pytest.raises(ReportError, match="learning360 models"):
        write_report(pipeline, tmp_path / "r.html")
    assert run(parse_args("--output", str(tmp_path / "r.html")), pipeline) == 2
    err = capsys.readouterr().err
    assert "no derived table course_stats" in err and "raw_only" in err


def test_young_tenant_renders_empty_states(tmp_path: Path) -> None:
    """Models built over a tenant with users and nothing else: the page renders, every chart
    says there is nothing yet, and the tables are empty."""
    pipeline = dlt.pipeline(
        pipeline_name="report_young",
        pipelines_dir=str(tmp_path / "p"),
        destination=dlt.destinations.duckdb(str(tmp_path / "w.duckdb")),
        dataset_name="young",
    )
    pipeline.run([dlt.resource([{"_id": "u1", "deleted": False}], name="users")])
    build_models(pipeline)
    page = write_report(pipeline, tmp_path / "r.html").read_text(encoding="utf-8")
    assert page.count("No data yet") == 8
    assert 'class="plot"' not in page
    data = read_report_data(pipeline)
    assert (data.learners, data.active_learners, data.paths) == (1, 0, 0)
    assert data.course_completion_rate is None


@pytest.mark.postgres
def test_same_report_data_on_postgres(
    postgres_env: str, warehouse: dlt.Pipeline, company: Company, tmp_path: Path
) -> None:
    """The same company synced into PostgreSQL reads back as the same report data."""
    pg = sync_company(
        company,
        tmp_path,
        destination="postgres",
        pipeline_name="learning360_report_pg",
        dataset_name=f"report_{uuid.uuid4().hex[:8]}",
    )
    on_pg, on_duckdb = read_report_data(pg), read_report_data(warehouse)
    for name in (
        "learners",
        "active_learners",
        "paths",
        "visibility",
        "grants",
        "started_per_day",
        "completed_per_day",
    ):
        assert getattr(on_pg, name) == getattr(on_duckdb, name), name
    for rows_pg, rows_duck in (
        (on_pg.courses, on_duckdb.courses),
        (on_pg.program_sessions, on_duckdb.program_sessions),
        (on_pg.groups, on_duckdb.groups),
    ):
        assert len(rows_pg) == len(rows_duck)
        for a, b in zip(rows_pg, rows_duck, strict=True):
            assert a.keys() == b.keys()
            for key in a:
                if isinstance(a[key], float) or isinstance(b[key], float):
                    assert a[key] == pytest.approx(b[key]), key
                else:
                    assert a[key] == b[key], key
    assert sorted(on_pg.hours_per_learner) == pytest.approx(sorted(on_duckdb.hours_per_learner))
    page = write_report(pg, tmp_path / "pg.html").read_text(encoding="utf-8")
    assert "on postgres" in page


# --------------------------------------------------------------------------------------------
# in a real browser
# --------------------------------------------------------------------------------------------


def chromium_run(chromium: str, tmp_path: Path, url: str, *extra: str) -> str:
    profile = tmp_path / f"profile-{uuid.uuid4().hex[:6]}"
    result = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "LANG": "en_US.UTF-8"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


class DomIndex(HTMLParser):
    """Collects, for each element id, the tags, classes, attributes and text inside it."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str | None]] = []
        self.inside: dict[str, list[tuple[str, dict[str, str | None]]]] = {}
        self.text: dict[str, list[str]] = {}
        self.body_attrs: dict[str, str | None] = {}

    def _open_ids(self) -> list[str]:
        return [i for _, i in self.stack if i]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body":
            self.body_attrs = a
        for open_id in self._open_ids():
            self.inside.setdefault(open_id, []).append((tag, a))
        if tag not in self.VOID:
            self.stack.append((tag, a.get("id")))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for open_id in self._open_ids():
            self.inside.setdefault(open_id, []).append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data: str) -> None:
        for open_id in self._open_ids():
            self.text.setdefault(open_id, []).append(data)

    def elements(self, element_id: str, tag: str, cls: str | None = None) -> list[dict]:
        return [
            a
            for t, a in self.inside.get(element_id, [])
            if t == tag and (cls is None or cls in (a.get("class") or "").split())
        ]

    def texts(self, element_id: str) -> str:
        return "\n".join(self.text.get(element_id, []))


def dom_of(chromium: str, tmp_path: Path, report: Path, fragment: str = "") -> DomIndex:
    dom = chromium_run(chromium, tmp_path, report.as_uri() + fragment, "--dump-dom")
    index = DomIndex()
    index.feed(dom)
    index.raw = dom  # type: ignore[attr-defined]
    return index


def drawn_bars(dom: DomIndex, chart_id: str) -> int:
    """Bars plotly drew: a ``g.point`` with a non-degenerate ``path``."""
    paths = [
        a
        for t, a in dom.inside.get(chart_id, [])
        if t == "path" and re.match(r"M[\d.]+,[\d.]+[VH]", a.get("d") or "")
    ]
    return len(paths)


def table_column(dom: DomIndex, table_id: str, column: int) -> list[str]:
    """data-value of one column, in DOM order (the order the user sees)."""
    rows = dom.raw.split(f'id="{table_id}"', 1)[1].split("</tbody>", 1)[0]  # type: ignore[attr-defined]
    values = []
    for row in re.findall(r"<tr>(.*?)</tr>", rows, re.S):
        cells = re.findall(r'<td[^>]*data-value="([^"]*)"', row)
        if not cells:  # the header row
            continue
        values.append(html.unescape(cells[column]))
    return values


def test_charts_are_drawn_with_data(
    chromium: str, report: Path, warehouse: dlt.Pipeline, tmp_path: Path
) -> None:
    dom = dom_of(chromium, tmp_path, report)
    data = read_report_data(warehouse)
    shown_courses = [c for c in data.courses if c["learners_started"] or c["learners_with_access"]]
    expected_courses = min(15, len(shown_courses))
    assert expected_courses > 0

    # every chart became a plotly SVG
    for chart in (
        "chart-course-completion",
        "chart-course-hours",
        "chart-activity",
        "chart-hours",
        "chart-session-completion",
        "chart-groups",
        "chart-access",
        "chart-reasons",
    ):
        assert dom.elements(chart, "svg", "main-svg"), f"{chart} was not drawn"
        assert drawn_bars(dom, chart) > 0 or chart == "chart-activity", f"{chart} has no bars"

    # course completion: one category per course, bars with real widths, a known course's label
    ticks = dom.elements("chart-course-completion", "g", "ytick")
    assert len(ticks) == expected_courses
    assert drawn_bars(dom, "chart-course-completion") >= expected_courses
    top_label = html.unescape(label(shown_courses[0]["course_name"]))
    assert top_label in dom.texts("chart-course-completion")
    # the hostile name is drawn as text, not markup
    assert not any(t == "img" for i in dom.inside for t, _ in dom.inside[i]), (
        "a course name became an <img> element"
    )
    assert "<img src=x" in dom.texts("courses-table")
    assert HOSTILE_NAME.replace("  ", " ") in dom.texts("courses-table")

    # activity: two lines with a point per week
    lines = [a for a in dom.elements("chart-activity", "path", "js-line") if a.get("d")]
    assert len(lines) >= 2
    assert max(a["d"].count("L") for a in lines) >= 4

    # tables rendered in full
    assert len(table_column(dom, "courses-table", 0)) == len(data.courses)
    assert len(table_column(dom, "groups-table", 0)) == len(data.groups)


def test_tables_sort_in_the_browser(chromium: str, report: Path, tmp_path: Path) -> None:
    started = 3  # column index of "Started" in the courses table
    rendered = [
        float(v) for v in table_column(dom_of(chromium, tmp_path, report), "courses-table", started)
    ]
    assert rendered == sorted(rendered, reverse=True)  # server-side default order
    assert rendered != sorted(rendered)  # otherwise the check below proves nothing

    # the hash runs the same click handler a user's click does
    dom = dom_of(chromium, tmp_path, report, "#sort=courses-table:learners_started:asc")
    assert dom.body_attrs.get("data-sorted-by") == "courses-table:learners_started:ascending"
    values = [float(v) for v in table_column(dom, "courses-table", started)]
    assert values == sorted(values)
    assert sorted(values) == sorted(rendered)  # same rows, reordered

    # a rate column: ascending, and the courses nobody started (no rate) go last
    dom = dom_of(chromium, tmp_path, report, "#sort=courses-table:completion_rate:asc")
    rates = table_column(dom, "courses-table", 5)
    present = [float(v) for v in rates if v]
    assert present == sorted(present)
    assert rates == [v for v in rates if v] + [v for v in rates if not v]

    # text: one click sorts names ascending
    dom = dom_of(chromium, tmp_path, report, "#sort=groups-table:group_name")
    names = table_column(dom, "groups-table", 0)
    assert dom.body_attrs.get("data-sorted-by") == "groups-table:group_name:ascending"
    assert [n.casefold() for n in names][0] == min(n.casefold() for n in names)


def test_screenshot(chromium: str, report: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    chromium_run(
        chromium, tmp_path, report.as_uri(), f"--screenshot={png}", "--window-size=1400,2400"
    )
    blob = png.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(blob) > 50_000  # a page of charts, not a blank canvas
    if keep := os.environ.get(SCREENSHOT_ENV):
        shutil.copyfile(png, keep)


def test_labels_say_what_they_compute(
    chromium: str, report: Path, warehouse: dlt.Pipeline, tmp_path: Path
) -> None:
    """Issue 14.6, read off the page Chromium rendered: the two completion rates have distinct
    names and their definitions, "learners who started", scores with a unit, and both the load
    time and the latest activity in the header."""
    dom = dom_of(chromium, tmp_path, report)
    text = html.unescape(dom.raw)  # type: ignore[attr-defined]
    data = read_report_data(warehouse)

    loaded = dom.texts("loaded-at")
    assert loaded == f"data loaded at {data.data_as_of:%Y-%m-%d %H:%M} UTC", loaded
    activity = dom.texts("latest-activity")
    assert activity == f"latest learner activity {data.latest_activity:%Y-%m-%d %H:%M} UTC"
    assert "data as of" not in text

    # the headline numbers: two rates, two names, each with its fraction
    kpis = dom.texts("overview")
    assert "Course completion of started" in kpis and "completed ÷ started" in kpis
    assert "Program completion of assigned" in kpis and "completed ÷ assigned" in kpis

    # the charts: titles name the population, captions define the rate
    assert "Course completion of started (top 15 courses by learners who started)" in text
    assert "learners who completed it ÷ learners who started it" in text
    assert "Program completion of assigned (top 15 sessions by learners assigned)" in text
    assert "learners who completed it ÷ learners assigned to it" in text
    assert "Completed ÷ assigned" in dom.texts("chart-groups")  # plotly's subplot title
    assert "top 15 by learners)" not in text

    # the tables: no bare "Completion" or unit-less "Avg score" column
    for table, rate in (
        ("courses-table", "Completed ÷ started"),
        ("sessions-table", "Completed ÷ assigned"),
        ("groups-table", "Completed ÷ assigned"),
    ):
        headers = re.findall(
            r"<th[^>]*>(.*?)</th>", text.split(f'id="{table}"', 1)[1].split("</thead>", 1)[0], re.S
        )
        titles = [re.sub(r"<[^>]+>", "", h).strip() for h in headers]
        assert rate in titles, titles
        assert "Completion" not in titles and "Avg score" not in titles, titles
    assert "Avg score (%)" in dom.texts("courses-table")
    assert "Avg score (%)" in dom.texts("sessions-table")
