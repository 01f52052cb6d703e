"""Bootstrap replicates drawn in a pool of processes (pipelines/bootstrap.py): the same
intervals as drawn in one."""

from __future__ import annotations

import pytest

from pipelines.bootstrap import bootstrap_intervals
from tests.unit.test_bootstrap import W, some_units


def test_replicates_drawn_in_a_pool_of_processes_are_the_ones_drawn_in_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The pool (spawned processes, used from POOL_FROM_SUBMISSIONS submissions) gives
    the same intervals, bit for bit, as drawing every unit in this process."""
    import pipelines.bootstrap as bootstrap

    units = some_units(seed=11, n=6)
    eligible = {u.unit_code for u in units}
    alone = bootstrap_intervals(units, eligible, W, seed=2026, resamples=200, processes=1)
    monkeypatch.setattr(bootstrap, "POOL_FROM_SUBMISSIONS", 1)
    pooled = bootstrap_intervals(units, eligible, W, seed=2026, resamples=200, processes=2)
    assert pooled == alone
    assert sum(u.q_n for u in units) >= 1  # so the pool was used
