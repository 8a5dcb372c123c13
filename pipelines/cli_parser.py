"""argparse that answers a typo with the usage of the command it was meant for and a
suggestion (``learning360 sync: error: unrecognized arguments: --duckdb-pth; did you mean
--duckdb-path?``), exit 2. Python 3.11's argparse shows the top-level usage for a flag a
subcommand does not know, and suggests nothing."""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Iterable, Sequence
from typing import NoReturn

INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")


def _suggestion(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


class SuggestingParser(argparse.ArgumentParser):
    """Adds "did you mean ...?" to an invalid choice (a mistyped subcommand or value)."""

    def error(self, message: str) -> NoReturn:
        found = INVALID_CHOICE.search(message)
        if found:
            choices = [c.strip(" '") for c in found.group(2).split(",")]
            message += _suggestion(found.group(1), choices)
        super().error(message)


def _subparser(parser: argparse.ArgumentParser, command: str | None) -> argparse.ArgumentParser:
    for action in parser._actions:  # noqa: SLF001 - argparse keeps subparsers here
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:  # noqa: SLF001
            return action.choices[command]
    return parser


def parse_with_suggestions(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None
) -> argparse.Namespace:
    """``parser.parse_args``, but a flag the subcommand does not know is reported by that
    subcommand (its usage, exit 2) with the closest flag it does know."""
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        sub = _subparser(parser, getattr(args, "command", None))
        names = [n for a in sub._actions for n in a.option_strings]  # noqa: SLF001
        flag = next((u.split("=", 1)[0] for u in unknown if u.startswith("-")), "")
        sub.error(
            f"unrecognized arguments: {' '.join(unknown)}"
            + (_suggestion(flag, names) if flag else "")
        )
    return args
