"""The door's production clocks and limit are the contract's (docs/contract.md, "The door"):
headers within 10 s, an idle kept-alive connection closed after 75 s, 256 connections a port
unless INVOICER_HTTP_MAX_CONNECTIONS says otherwise."""

from __future__ import annotations

import pytest

from worker.connections import ConnectionLimits
from worker.settings import Settings


def test_the_contracts_clocks_are_the_defaults() -> None:
    limits = ConnectionLimits(max_connections=1)
    assert (limits.header_timeout_seconds, limits.idle_timeout_seconds) == (10.0, 75.0)
    assert limits.response_timeout_seconds == 60.0  # not the contract's: ours


def test_a_port_holds_256_connections_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("INVOICER_HTTP_MAX_CONNECTIONS", raising=False)
    assert Settings().http_max_connections == 256
    monkeypatch.setenv("INVOICER_HTTP_MAX_CONNECTIONS", "1000")
    assert Settings().http_max_connections == 1000
    monkeypatch.setenv("INVOICER_HTTP_MAX_CONNECTIONS", "0")
    with pytest.raises(ValueError, match="http_max_connections"):
        Settings()
