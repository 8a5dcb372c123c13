"""API v2 listings that never end or loop (issue 13, case 2): a ``Link: rel="next"`` back to a
page already read is an error at once (it was followed forever: thousands of requests for one
page), and next links that never end stop at the page bound. The failed run loads nothing; the
next clean run equals the truth."""

from __future__ import annotations

import pytest

from emulator import Company, EmulatorServer
from pipelines.cli import explain
from pipelines.run import run_sync
from tests.source_v2.truth import assert_v2_warehouse_equals_truth

GROUPS = "GET /api/v2/groups"


def _failure(pipeline) -> tuple[int, str]:
    with pytest.raises(Exception) as failed:
        run_sync(pipeline, build_models=False)
    return explain(failed.value)


def test_a_next_link_back_to_a_read_page_is_an_error_not_a_loop(
    configure_v2, new_pipeline, company: Company, emulator: EmulatorServer
) -> None:
    configure_v2()
    pipeline = new_pipeline()
    emulator.set_faults(loop_link_route=GROUPS)
    code, line = _failure(pipeline)
    assert code == 1
    assert line.startswith(
        '360Learning GET groups: the Link rel="next" of page 1 points back to a '
        "page already read; not followed"
    ), line
    assert emulator.metrics()["requests"][GROUPS] == 1  # not followed even once

    emulator.set_faults()
    run_sync(pipeline, build_models=False)
    assert_v2_warehouse_equals_truth(pipeline, company.truth())


def test_next_links_that_never_end_stop_at_the_page_bound(
    configure_v2, new_pipeline, company: Company, emulator: EmulatorServer
) -> None:
    configure_v2(SOURCES__LEARNING360__MAX_LISTING_PAGES=10)
    pipeline = new_pipeline()
    emulator.set_faults(endless_route=GROUPS)
    code, line = _failure(pipeline)
    assert code == 1
    assert "GET groups spans more than 10 pages" in line, line
    assert "sources.learning360.max_listing_pages" in line, line
    assert emulator.metrics()["requests"][GROUPS] == 10

    emulator.set_faults()
    run_sync(pipeline, build_models=False)
    assert_v2_warehouse_equals_truth(pipeline, company.truth())
