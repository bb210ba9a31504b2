"""The testing kit offered to plugin authors works as documented."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import attrs
import pytest
import terminal5_template.plugin as loopback
import vcr
from terminal5_template.constants import STATUSES

from terminal5.contract import HttpResponse
from terminal5.errors import DuplicateOrder
from terminal5.hookspecs import overrides
from terminal5.logs import configure, flush
from terminal5.models import Market, MarketType
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


MARKET = Market(
    exchange="loopback", symbol="BTC/USDT", native_symbol="BTCUSDT", type=MarketType.SPOT, base="BTC",
    quote="USDT", tick_size=Decimal("0.01"), step_size=Decimal("0.00001"),
)


def test_check_decimal_format_reads_what_the_plugin_sends(t5_hooks: Any) -> None:
    hooks = t5_hooks(loopback)
    conformance.check_decimal_format(hooks, "loopback", MARKET, [Decimal("1E+1"), Decimal("0.00100")],
                                     price=Decimal("4.3E+4"))

    @overrides("loopback")
    def to_native(request: Any, market: Any, native_client_id: Any) -> Any:  # str(Decimal) keeps the exponent
        call = loopback.to_native(request=request, market=market, native_client_id=native_client_id)
        return attrs.evolve(call, params={**call.params, "quantity": str(request.quantity)})

    sloppy = t5_hooks(loopback, SimpleNamespace(__name__="sloppy", to_native=to_native))
    with pytest.raises(AssertionError, match=r"quantity='1E\+1' is not plain"):
        conformance.check_decimal_format(sloppy, "loopback", MARKET, [Decimal("1E+1")], price=Decimal("43000"))


def test_check_error_map_judges_type_and_code_not_text(t5_hooks: Any) -> None:
    hooks = t5_hooks(loopback)

    def answer(code: str, text: str) -> HttpResponse:
        return HttpResponse(status=400, headers={}, text=text, latency_ms=1, data={"code": code, "msg": text})

    conformance.check_error_map(hooks, "loopback", [(answer("DUPLICATE", "whatever"), DuplicateOrder, "DUPLICATE")])
    with pytest.raises(AssertionError, match=r"code 'NOT_FOUND'.*DuplicateOrder.*OrderNotFound") as raised:
        conformance.check_error_map(hooks, "loopback", [(answer("NOT_FOUND", "duplicate!"), DuplicateOrder)])
    assert "duplicate!" not in str(raised.value)  # labelled by status and code, not by the text
    with pytest.raises(AssertionError, match="code 'OTHER'"):
        conformance.check_error_map(hooks, "loopback", [(answer("DUPLICATE", ""), DuplicateOrder, "OTHER")])


def test_logs_rotate_as_the_seed_says(tmp_path: Path) -> None:
    from loguru import logger

    configure(log_dir=tmp_path, level="INFO", json_lines=True, console=False)
    try:
        with logger.contextualize(request_id="r-1"):
            logger.info("hello")
        flush()  # the file is written by its own thread: flush waits for it (logger.complete() does not)
        line = (tmp_path / "terminal5.log").read_text().strip().splitlines()[-1]
        assert '"request_id": "r-1"' in line and '"hello"' in line
    finally:
        logger.remove()
        logger.add(__import__("sys").stderr)
