"""The Jinja2 environment for HTML built outside the dashboard: the citizen's survey
pages (producers/gateway/templates/) and the ranking report (pipelines/templates/).

Autoescape is on for every template, so every value is text, never markup; an
undefined name is an error rather than an empty string. Block tags take their line
break with them (``trim_blocks``, ``lstrip_blocks``), so templates read like the HTML
they make, and a file keeps its last newline.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined


def environment(folder: Path) -> Environment:
    """An escaping environment loading the templates in ``folder``."""
    env = Environment(loader=FileSystemLoader(folder), autoescape=True, undefined=StrictUndefined)
    env.trim_blocks = env.lstrip_blocks = env.keep_trailing_newline = True
    return env
