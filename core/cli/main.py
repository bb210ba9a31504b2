"""The entry point: parse, run the verb, turn errors into an exit status and one line."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from terminal5 import jsonutil
from terminal5.cli.context import configure_logs
from terminal5.cli.output import CliError, Out
from terminal5.cli.parser import build_parser
from terminal5.errors import Terminal5Error


def error_text(exc: Terminal5Error) -> str:
    """``Type: message``: the field is named once (the message of a bad request already starts with it)."""
    return f"{exc.kind}: {exc}"


def main(argv: Sequence[str] | None = None, *, stdin: TextIO | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else 2
    args.json = getattr(args, "json", False)
    args.stderr = stderr
    args.plugin = getattr(args, "plugin", None)
    args.stdin = stdin
    out = Out(args.json, stdout, stderr)
    if not getattr(args, "func", None):
        parser.print_help(stdout)
        return 2
    if args.command not in ("run",):
        configure_logs(os.environ.get("TERMINAL5_CLI_LOG_LEVEL", "WARNING"))
    try:
        return args.func(args, out)
    except CliError as exc:
        stderr.write(f"terminal5: {exc}\n")
        return 2
    except Terminal5Error as exc:
        if args.json:
            stdout.write(jsonutil.dumps(exc.to_dict()) + "\n")
        else:
            stderr.write(f"error: {error_text(exc)}\n")
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # no traceback for people; the type and message say what broke
        stderr.write(f"error: {type(exc).__name__}: {exc}\n")
        return 1
