"""One error type for everything a user can get wrong, and the CLI wrapper that prints it.

A user error is reported as a single line naming the key/column/field, the rule it broke and
what is allowed. The traceback is shown only with ``--debug`` or ``MMP_DEBUG=1``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any


class MMPError(Exception):
    """A problem the user can fix: bad recipe, bad data, bad request."""

    def __init__(self, where: str, rule: str, allowed: str | None = None):
        self.where, self.rule, self.allowed = where, rule, allowed
        message = f"{where}: {rule}"
        if allowed:
            message += f" (allowed: {allowed})"
        super().__init__(message)


class MMPErrors(MMPError):
    """Several problems found at once (validation reports everything, not just the first)."""

    def __init__(self, errors: Sequence[MMPError]):
        self.errors = list(errors)
        Exception.__init__(self, "\n".join(str(e) for e in self.errors))


def raise_all(errors: Sequence[MMPError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MMPErrors(errors)


def flatten(err: MMPError) -> list[MMPError]:
    return list(err.errors) if isinstance(err, MMPErrors) else [err]


def collect(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, list[MMPError]]:
    """Call ``fn``; return its result and the user errors it raised (all of them), so a checker
    can report every problem at once instead of stopping at the first."""
    try:
        return fn(*args, **kwargs), []
    except MMPError as err:
        return None, flatten(err)


def unique(errors: Sequence[MMPError]) -> list[MMPError]:
    """``errors`` without repeats (two checks may find the same problem), in order."""
    seen: set[str] = set()
    out = []
    for err in errors:
        if str(err) not in seen:
            seen.add(str(err))
            out.append(err)
    return out


def debug_enabled(argv: Sequence[str]) -> bool:
    return "--debug" in argv or os.environ.get("MMP_DEBUG", "") not in ("", "0", "false")


def run_cli(main: Callable[[list[str]], int | None], argv: Sequence[str] | None = None) -> None:
    """Run ``main`` and turn user errors into one clean message and exit code 2."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = debug_enabled(args)
    args = [a for a in args if a != "--debug"]
    try:
        code = main(args)
    except MMPError as err:
        if debug:
            raise
        for line in str(err).splitlines():
            print(f"error: {line}", file=sys.stderr)
        print("(set MMP_DEBUG=1 or pass --debug for the traceback)", file=sys.stderr)
        sys.exit(2)
    sys.exit(code or 0)
