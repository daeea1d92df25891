"""The ``searchkit`` console script: Ctrl-C is one line and exit 130 from
the first instant, while the command's modules are still being imported
(the CLI's own handler exists only once they are)."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from .cli import main as cli
    except KeyboardInterrupt:
        sys.stderr.write("searchkit: interrupted\n")
        sys.exit(130)
    cli(prog_name="searchkit")
