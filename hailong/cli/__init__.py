"""``hailong``: the command line, at the edge of the code. ``hailong --help`` lists the
commands.

The rest of the core (``hailong/*.py``) never imports this package; these modules drive the
stages (producers, streams, warehouse, pipelines, infra) and import them inside each
command, when it runs, so ``--help`` stays fast and one stage's dependencies are not loaded
for another's command. One module per group of commands; each has ``register(add)``,
which adds its commands and their arguments to the parser (``main.py``).
"""

from hailong.cli.main import build_parser, main

__all__ = ["build_parser", "main"]
