"""One tenant's ``learning360 sync`` in its own process, with a result file for the parent.

``python -m pipelines.tenants_child --result-file F -- <sync args>``, started by
:func:`pipelines.tenants.run_tenant`. Its own module because it runs the CLI's sync, and the
CLI imports ``tenants``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipelines import cli, interrupts
from pipelines.checks import preflight
from pipelines.explain import explain
from pipelines.stages import die_with_parent


def child_main(argv: Sequence[str]) -> int:
    """The CLI's sync, plus a JSON result (rows loaded, or the failure line)."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.tenants_child")
    parser.add_argument("--result-file", required=True)
    parser.add_argument("sync_args", nargs=argparse.REMAINDER)
    own = parser.parse_args(argv)
    # a scheduler's timeout or a killed CLI ends this tenant's sync too: SIGTERM, so it
    # stops as `sync` does on SIGTERM
    die_with_parent(signal.SIGTERM)
    sync_args = own.sync_args[1:] if own.sync_args[:1] == ["--"] else own.sync_args
    args = cli.build_parser().parse_args(["sync", *sync_args])
    result: dict[str, Any] = {}
    if args.log_level:
        os.environ["RUNTIME__LOG_LEVEL"] = args.log_level.upper()
    restore_signals = interrupts.install()  # SIGTERM (parent gone, task killed): exit 143
    try:
        preflight(args.destination, source=True)
        code = cli.cmd_sync(args)
        sync = getattr(args, "sync_result", None)
        result["rows"] = sum(sync.rows_per_table.values()) if sync is not None else None
    except (Exception, KeyboardInterrupt, interrupts.Terminated) as exc:
        if args.debug:
            traceback.print_exc()
        code, line = explain(exc)
        result["line"] = line
        print(f"learning360 sync failed: {line}", file=sys.stderr, flush=True)
    finally:
        restore_signals()
    Path(own.result_file).write_text(json.dumps(result), encoding="utf-8")
    return code


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1:]))
