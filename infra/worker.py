"""The stream worker (``hailong stream``) as a child process: the one launcher the demo,
the tests and the benchmarks use.

The child gets this process's environment plus every setting of ``settings``
(``Settings.child_environment``), so a worker started for a test's database and topics
works on those. Its output (stdout and stderr) goes to a log file. ``default_signals``
gives it the default handling of SIGTERM, which a CI runner may have set to ignored.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from hailong.settings import Settings
from infra.stack import default_signals

WORKER_COMMAND = (sys.executable, "-m", "hailong.cli", "stream")


def start_worker(
    settings: Settings,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    command: Sequence[str] = WORKER_COMMAND,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a worker with these settings (and ``env`` on top); its output is appended to
    ``log_path``. ``command``: another faust worker in its place (the benchmark's bare
    agent), started the same way."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(  # noqa: S603 - our own command, no shell
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**settings.child_environment(), **(env or {})},
            preexec_fn=default_signals,
            cwd=cwd,
        )


def stop_worker(proc: subprocess.Popen[bytes], timeout_s: float = 30.0) -> int:
    """SIGTERM (a graceful stop: the batch in flight is finished or left uncommitted),
    then SIGKILL after ``timeout_s``; returns the exit status."""
    proc.terminate()
    try:
        return proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def log_tail(log_path: Path, chars: int = 5000) -> str:
    """The end of a worker's log (what to show when it failed)."""
    return log_path.read_text("utf-8", errors="replace")[-chars:]


@contextmanager
def running_worker(
    settings: Settings,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
) -> Iterator[subprocess.Popen[bytes]]:
    """A worker for the duration of the block, stopped at its end; if it did not end by
    the SIGTERM (status 0 or -15), the tail of its log goes to stderr."""
    proc = start_worker(settings, log_path, env)
    try:
        yield proc
    finally:
        if stop_worker(proc, timeout_s) not in (0, -15):
            print(log_tail(log_path), file=sys.stderr)
