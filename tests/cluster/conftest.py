"""What the cluster tests share: the stack's cluster profile (infra/cluster.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hailong.settings import Settings, load_settings
from tests.conftest import stack_up


@pytest.fixture(scope="session")
def cluster() -> Iterator[Settings]:
    """The cluster profile, up for these tests (stopped after unless it was running)."""
    with stack_up(load_settings(cluster=True)) as s:
        yield s
