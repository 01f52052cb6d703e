"""Evidence for faust upstream, not used by the worker: faust's per-record hand-off
without its per-record ``wait_first``.

faust's ``Consumer._drain_messages`` (faust/transport/consumer.py, faust-streaming
0.15.3) hands each record to the conductor with

    await self.wait_first(callback(message), self.suspend_flow.wait())

and mode's ``Service.wait_first`` wraps each of its arguments, and the service's own
``stopped`` and ``crashed`` events, in a task (four ``ensure_future``), waits for the
first with ``asyncio.wait`` and cancels the other three: four tasks and a dozen turns of
the event loop per record, to be able to abandon a hand-off that blocks (a full stream
queue) when the flow is suspended for a rebalance.

:func:`patch` replaces the method with the same loop whose hand-off awaits the
callback directly while the flow is not suspended, and keeps ``wait_first`` when it
is. What this gives up: a hand-off that starts while the flow runs and then blocks is
not abandoned when a rebalance suspends the flow (it waits for its queue instead).
``python -m bench --only 3b`` with ``BENCH_FAUST_FAST_DRAIN=1`` in the environment runs
the bare agent (bench/bare_faust.py) patched; bench/FAUST.md has the figures.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast


def patch() -> None:
    """Install the direct hand-off on faust's Consumer (this process only)."""
    from faust.transport import consumer as module

    module.Consumer._drain_messages = _drain_messages  # type: ignore[method-assign]


async def _drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover
    # faust 0.15.3's Consumer._drain_messages, but for the marked hand-off.
    from faust.transport.consumer import CONSUMER_FETCHING

    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    set_flag, unset_flag = self.diag.set_flag, self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    suspended = self.suspend_flow.is_set
    yield_every, num_since_yield = 100, 0
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(CONSUMER_FETCHING)
            ait = cast(AsyncIterator[Any], getmany(timeout=1.0))
            await self.sleep(0)
            if not self.should_stop:
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await asyncio.sleep(0)
                        num_since_yield = 0
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is None or offset >= r_offset:
                        gap = offset - (r_offset or 0)
                        if gap > 1 and r_offset and acks_enabled_for(message.topic):
                            await self._add_gap(tp, r_offset + 1, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        if suspended():  # faust's own hand-off
                            await self.wait_first(callback(message), self.suspend_flow.wait())
                        else:  # the change: no tasks, no asyncio.wait
                            await callback(message)
                        set_read_offset(tp, offset)
                unset_flag(CONSUMER_FETCHING)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            return
        raise
    finally:
        unset_flag(CONSUMER_FETCHING)
