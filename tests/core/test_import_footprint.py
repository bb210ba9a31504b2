"""What a process using only the Gateway loads: not the Redis client without a Redis URL (~5 MB of RSS); it
is loaded when a Redis-backed rate budget is made."""

from __future__ import annotations

import json
import subprocess
import sys


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)  # noqa: S603
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_the_gateway_alone_does_not_load_redis() -> None:
    loaded = json.loads(_run("import json, sys; import terminal5.gateway; "
                             "print(json.dumps('redis' in sys.modules))"))
    assert loaded is False


def test_a_redis_backed_rate_budget_loads_redis() -> None:
    code = ("import json, sys; from terminal5.ratebudget import budget_store\n"
            "assert 'redis' not in sys.modules and type(budget_store(None)).__name__ == 'BudgetStore'\n"
            "store = budget_store('redis://127.0.0.1:1/0')\n"
            "print(json.dumps(type(store).__name__ == 'RedisBudgetStore' and 'redis' in sys.modules))")
    assert json.loads(_run(code)) is True
