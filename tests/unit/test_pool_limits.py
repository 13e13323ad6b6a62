"""Each of N app processes gets a share of the PostgreSQL connections (Settings.pool_limits)."""

from __future__ import annotations

import pytest

from sirefund.config import Settings


def _settings(**kw: object) -> Settings:
    return Settings(secret_key="test-secret-key-0123456789abcdef", **kw)


def test_one_process_keeps_the_pool_of_ten_plus_twenty_overflow():
    assert _settings().pool_limits(1) == (10, 20)


@pytest.mark.parametrize("processes", [1, 2, 3, 4, 8])
def test_n_processes_together_stay_within_the_connection_budget(processes):
    settings = _settings(db_max_connections=60)
    size, overflow = settings.pool_limits(processes)
    assert size >= 1
    assert processes * (size + overflow) <= 60


def test_explicit_pool_settings_win_over_the_derived_share():
    settings = _settings(db_pool_size=5, db_max_overflow=0, db_max_connections=100)
    assert settings.pool_limits(4) == (5, 0)
