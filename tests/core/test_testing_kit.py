"""The testing kit offered to plugin authors works as documented."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import terminal5_template.plugin as loopback
import vcr
from terminal5_template.constants import STATUSES

from terminal5.logs import configure
from terminal5.testing import conformance
from terminal5.testing.pytest_plugin import vcr_config


def test_vcr_config_replays_only_and_scrubs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TERMINAL5_RECORD", raising=False)
    config = vcr_config(tmp_path, secret_headers=("X-API-KEY",), secret_params=("recvWindow",))
    assert config["record_mode"] == "none"
    assert ("X-API-KEY", "SCRUBBED") in config["filter_headers"]
    assert ("signature", "SCRUBBED") in config["filter_query_parameters"]
    assert ("recvWindow", "SCRUBBED") in config["filter_post_data_parameters"]
    vcr.VCR(**config)  # a valid configuration
    monkeypatch.setenv("TERMINAL5_RECORD", "1")
    assert vcr_config(tmp_path)["record_mode"] == "all"


def test_conformance_checks_fail_on_a_broken_plugin(t5_hooks: Any) -> None:
    hooks = t5_hooks(loopback)
    conformance.check_status_table(hooks, "loopback", STATUSES)
    with pytest.raises(AssertionError, match="without a mapping"):
        conformance.check_status_table(hooks, "loopback", [*STATUSES, "PENDING_NEW"])
    conformance.check_client_id_mapping(hooks, hooks.registry.get("loopback"), ["a", "b" * 64])
    conformance.check_spec(hooks.registry.get("loopback"))


def test_logs_rotate_as_the_seed_says(tmp_path: Path) -> None:
    from loguru import logger

    configure(log_dir=tmp_path, level="INFO", json_lines=True, console=False)
    try:
        with logger.contextualize(request_id="r-1"):
            logger.info("hello")
        logger.complete()
        line = (tmp_path / "terminal5.log").read_text().strip().splitlines()[-1]
        assert '"request_id": "r-1"' in line and '"hello"' in line
    finally:
        logger.remove()
        logger.add(__import__("sys").stderr)
