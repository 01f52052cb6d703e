"""What the command modules share: how a command is registered, small helpers."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable

from hailong.errors import HailongError
from hailong.settings import Settings

Command = Callable[[Settings, argparse.Namespace], None]
# add(name, command, help): a subcommand of ``hailong``; returns its parser for arguments.
Adder = Callable[[str, Command, str], argparse.ArgumentParser]


def dagster_home(settings: Settings) -> None:
    # Without DAGSTER_HOME Dagster keeps run history in a temp dir that vanishes.
    home = settings.stack_dir / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    os.environ.setdefault("DAGSTER_HOME", str(home))


def need(value: str | None, option: str) -> str:
    if not value:
        raise HailongError(f"give {option}")
    return value


def us_text(us: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%d %H:%M")
