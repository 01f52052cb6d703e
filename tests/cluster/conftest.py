"""What the cluster tests share: the stack's cluster profile (infra/cluster.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from hailong.settings import Settings, load_settings
from infra.stack import Stack


@pytest.fixture(scope="session")
def cluster() -> Iterator[Settings]:
    """The cluster profile, up for these tests (stopped after unless it was running)."""
    s = load_settings(cluster=True)
    st = Stack(s)
    was_running = all(x.running for x in st.status())
    st.install()
    st.start()
    try:
        yield s
    finally:
        if not was_running and not os.environ.get("HAILONG_KEEP_STACK"):
            st.stop()
