"""The ``hailong`` parser: each command module adds its commands (``register``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hailong.cli import alerts, demo, devices, produce, rank, stack, stream, web
from hailong.cli.common import Command
from hailong.errors import HailongError
from hailong.settings import load_settings

# In the order ``hailong --help`` lists them: set-up, the worker, producers, results, people.
MODULES = (stack, stream, produce, rank, devices, alerts, web, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hailong",
        description="Hailong: real-time citizen satisfaction with public services. "
        "Settings come from HAILONG_* environment variables (hailong/settings.py).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, fn: Command, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(fn=fn)
        return p

    for module in MODULES:
        module.register(add)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    import signal

    # `hailong devices list | head`: a closed pipe ends the command quietly.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = build_parser().parse_args(argv)
    try:
        args.fn(load_settings(), args)
    except HailongError as exc:
        print(f"hailong: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None
