"""A network namespace of a test's own, joined to the host by a veth pair: a process
run in it (:meth:`Namespace.command`) reaches the local stack's ports at 127.0.0.1 as
any process on this machine does, until the test takes the link down (:meth:`cut`).

The stack's services listen on 127.0.0.1 only, which inside the namespace is the
namespace's own loopback; so a forwarder in the namespace (tests/forward.py) carries
each connection to one of the given ports over the veth link to the host's end, where a
second forwarder hands it to the service. With the link down, the process's connections
stall as on a real network partition (nothing is refused or reset); with it up again,
they go on. Needs root (``ip netns``, ``ip link``), as CI has on its machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from types import TracebackType


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)  # noqa: S603, S607
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


class Namespace:
    """``with Namespace("hlw1", ports, 7) as ns``: the namespace, its link and its
    forwarders (``subnet``: the third byte of 10.231.<subnet>.0/30, one per namespace)."""

    def __init__(self, name: str, ports: Sequence[int], subnet: int) -> None:
        assert len(name) <= 10, "interface names are at most 15 characters"
        self.name = name
        self.ports = [str(p) for p in ports]
        self.host_end, self.ns_end = f"{name}h", f"{name}n"
        self.host_ip, self.ns_ip = f"10.231.{subnet}.1", f"10.231.{subnet}.2"
        self._forwarders: list[subprocess.Popen[str]] = []

    def command(self, *argv: str) -> tuple[str, ...]:
        """``argv`` run inside the namespace (the environment and folder stay)."""
        return ("ip", "netns", "exec", self.name, *argv)

    def __enter__(self) -> Namespace:
        self._remove()  # a namespace left by an interrupted run
        _ip("netns", "add", self.name)
        _ip("link", "add", self.host_end, "type", "veth", "peer", "name", self.ns_end)
        _ip("link", "set", self.ns_end, "netns", self.name)
        _ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_end)
        _ip("link", "set", self.host_end, "up")
        inside = ("netns", "exec", self.name, "ip")
        _ip(*inside, "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_end)
        _ip(*inside, "link", "set", self.ns_end, "up")
        _ip(*inside, "link", "set", "lo", "up")
        forward = (sys.executable, "-m", "tests.forward")
        self._start(*forward, "--bind", self.host_ip, "--to", "127.0.0.1", *self.ports)
        self._start(
            *self.command(*forward, "--bind", "127.0.0.1", "--to", self.host_ip, *self.ports)
        )
        return self

    def _start(self, *argv: str) -> None:
        proc = subprocess.Popen(  # noqa: S603 - our own command
            argv, stdout=subprocess.PIPE, text=True, env={**os.environ}
        )
        self._forwarders.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"forwarder {' '.join(argv)} did not start: {line!r}")

    def cut(self) -> None:
        """Take the link down: nothing passes between the namespace and the host."""
        _ip("link", "set", self.host_end, "down")

    def restore(self) -> None:
        _ip("link", "set", self.host_end, "up")
        time.sleep(0.5)  # the link's carrier comes back

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for proc in self._forwarders:
            proc.kill()
            proc.wait()
        self._remove()

    def _remove(self) -> None:
        for args in (("netns", "del", self.name), ("link", "del", self.host_end)):
            subprocess.run(["ip", *args], capture_output=True, check=False)  # noqa: S603, S607
