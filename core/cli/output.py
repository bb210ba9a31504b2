"""How the command prints: for humans by default, JSON (no floats) with ``--json``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, TextIO

from terminal5 import jsonutil


class CliError(Exception):
    """A usage problem found after parsing (exit status 2)."""


class Out:
    def __init__(self, as_json: bool, stdout: TextIO, stderr: TextIO) -> None:
        self.as_json = as_json
        self.stdout = stdout
        self.stderr = stderr

    def emit(self, data: Any, human: Callable[[Any], str] | str | None = None) -> None:
        if self.as_json:
            self.stdout.write(jsonutil.dumps(no_floats(data)) + "\n")
        else:
            text = human(data) if callable(human) else (human if human is not None else pretty(data))
            self.stdout.write(text.rstrip("\n") + "\n")

    def note(self, text: str) -> None:
        if not self.as_json:
            self.stdout.write(text + "\n")


def no_floats(data: Any) -> Any:
    """Durations and the like may be floats; JSON output carries them as exact decimals."""
    if isinstance(data, float):
        return Decimal(repr(data))
    if isinstance(data, dict):
        return {k: no_floats(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [no_floats(v) for v in data]
    return data


def pretty(data: Any, indent: int = 0) -> str:
    pad = "  " * indent
    if isinstance(data, dict):
        lines = []
        for key, value in data.items():
            if isinstance(value, (dict, list)) and value:
                lines.append(f"{pad}{key}:")
                lines.append(pretty(value, indent + 1))
            else:
                lines.append(f"{pad}{key}: {scalar(value)}")
        return "\n".join(lines)
    if isinstance(data, list):
        if not data:
            return f"{pad}(none)"
        return "\n".join(
            (f"{pad}-\n{pretty(v, indent + 1)}" if isinstance(v, (dict, list)) else f"{pad}- {scalar(v)}") for v in data
        )
    return pad + scalar(data)


def scalar(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (dict, list)):
        return jsonutil.dumps(value)
    return str(value)


def table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    if not rows:
        return "(none)"
    cells = [[scalar(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)
