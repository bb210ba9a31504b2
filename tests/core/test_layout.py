"""The core's layout keeps its promises: each stage of the request path is a module of its name, no module
grows past ~400 lines without saying why at its top, and the daemon and the CLI reach the database only
through the gateway's methods."""

from __future__ import annotations

import ast
import re
from pathlib import Path

CORE = Path(__file__).resolve().parents[2] / "core"
LIMIT = 400


def test_each_stage_of_the_request_path_is_a_module() -> None:
    for stage in (
        "construction",
        "brokers",
        "client_pool",
        "conversion",
        "placement",
        "submission",
        "order_results",
        "attached_orders",
        "order_operations",
        "account_queries",
        "reconciliation",
        "idempotency",
        "absence",
    ):
        assert (CORE / f"{stage}.py").is_file(), stage


def test_no_core_module_is_long_without_a_reason_at_its_top() -> None:
    long = []
    for path in sorted(CORE.rglob("*.py")):
        lines = path.read_text().count("\n")
        if lines > LIMIT:
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            if "Longer than" not in doc:
                long.append(f"{path.relative_to(CORE)} ({lines} lines)")
    assert not long, f"split these or say at their top why not ('Longer than ~400 lines on purpose: ...'): {long}"


def test_the_daemon_and_the_cli_reach_the_database_through_the_gateway() -> None:
    reach = re.compile(r"\b(gw|gateway)\.(storage|orders|brokers|client_ids|tokens)\b")
    found = []
    for path in sorted([*(CORE / "daemon").glob("*.py"), *(CORE / "cli").glob("*.py")]):
        found += [f"{path.name}:{n}" for n, line in enumerate(path.read_text().splitlines(), 1) if reach.search(line)]
    assert not found, found
