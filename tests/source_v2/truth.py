"""What a v2 sync can know of the emulator's ground truth, and the comparisons the v2 tests use
(in pipelines/verify.py, which the bench uses too).

``v2_view(truth)`` is the truth as API v2 renders it (docs/emulator-v2.md, "Decisions"):

* ``courses`` without drafts (v2 does not serve them);
* ``group_catalog``: a v1 catalog path becomes one ``path_session`` entry per session of the
  path (v2's path-session-ids), program sessions are gone;
* ``program_sessions``, ``group_programs``, ``user_programs``: empty (no v2 route).

Every other shared table is the same, column for column (tests/warehouse.py CONTRACT): v2
lacks none of the contract columns but ``courses.author``: v2 names the author by id only
(``author_id``; the models read the current mail from ``users``), so v2 rows hold NULL there.
"""

from __future__ import annotations

from pipelines.verify import (
    SHARED_TABLES,
    V2_ONLY_CONTRACT,
    Truth,
    assert_shared_tables_equal,
    assert_v2_only_tables_equal,
    assert_v2_warehouse_equals_truth,
    drafts,
    v2_catalog,
    v2_view,
)
from sources.learning360.routes import SCOPES
from sources.learning360.tables import V2_TABLES

# every scope a full v2 sync needs, in table order (the emulator's grants in the scope tests)
REQUIRED_SCOPES = tuple(dict.fromkeys(SCOPES[r] for t in V2_TABLES.values() for r in t.routes))

__all__ = [
    "REQUIRED_SCOPES",
    "SHARED_TABLES",
    "V2_ONLY_CONTRACT",
    "Truth",
    "assert_shared_tables_equal",
    "assert_v2_only_tables_equal",
    "assert_v2_warehouse_equals_truth",
    "drafts",
    "v2_catalog",
    "v2_view",
]
