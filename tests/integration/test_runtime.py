"""What `sirefund serve` runs (runtime.build): the simulators and their test-only control API
only with --simulate-agencies (the demo uses it), never in a production serve, and never on a
public https site."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sirefund import runtime
from sirefund.config import Settings

CONTROL = "/_agencies/_sim/script"


def _settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'sirefund.db'}",
        var_dir=tmp_path / "var",
        secret_key="test-secret-key-0123456789abcdef",
        callback_secret="test-callback-secret-0123456789",
        **overrides,
    )


def _get(served: runtime.Served, path: str) -> int:
    try:
        with TestClient(served.app) as client:
            return client.get(path).status_code
    finally:
        if served.simulator_state is not None:
            served.simulator_state.close()
        served.engine.dispose()


def test_a_production_serve_has_no_simulators_and_no_control_api(tmp_path: Path) -> None:
    served = runtime.build(_settings(tmp_path), host="0.0.0.0", port=8000, simulate_agencies=False)
    assert served.simulator_state is None and served.settings.agency_url is None
    assert _get(served, CONTROL) == 404
    assert not any(
        getattr(route, "path", "").startswith(runtime.SIMULATORS_PATH)
        for route in served.app.routes
    )


def test_serve_with_simulated_agencies_mounts_them_and_points_the_adapters_there(
    tmp_path: Path,
) -> None:
    served = runtime.build(_settings(tmp_path), host="0.0.0.0", port=8123, simulate_agencies=True)
    assert served.settings.agency_url == "http://127.0.0.1:8123/_agencies"
    assert _get(served, CONTROL) == 200


def test_the_simulators_are_refused_on_a_public_https_site(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = _settings(tmp_path, public_url="https://etax.example.cn")
    with pytest.raises(runtime.SimulatorsRefused):
        runtime.build(settings, host="127.0.0.1", port=8000, simulate_agencies=True)
    status = runtime.serve(
        settings, host="127.0.0.1", port=8000, worker=False, simulate_agencies=True
    )
    assert status == 2
    assert "--simulate-agencies" in capsys.readouterr().out
