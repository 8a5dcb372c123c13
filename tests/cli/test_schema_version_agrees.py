"""The schema version the sync summary prints is the one `status` shows right after it."""

from __future__ import annotations

import re

from emulator import Company


def _version(text: str) -> int:
    found = re.search(r"^schema: version (\d+)", text, re.MULTILINE)
    assert found, text
    return int(found.group(1))


def test_summary_and_status_show_the_same_schema_version(configure, cli, company: Company) -> None:
    for _ in range(2):  # a first and an incremental sync
        sync = cli("sync", "--progress", "none", "--no-models")
        assert sync.code == 0, sync.err
        status = cli("status")
        assert _version(sync.out) == _version(status.out), (sync.out, status.out)
        company.advance(days=1)
