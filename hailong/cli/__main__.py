"""``python -m hailong.cli`` is ``hailong``."""

from hailong.cli.main import main

main()
