"""The ``cim`` command line.

``--store`` (or the ``CIM_STORE`` variable) selects the store.  Command names and options are a stable
interface: scripts and other platforms call them.  Each module in this package adds its commands to
``app``: ``core`` (init, sample, info, serve, import, copy), and one module per later feature.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from ..errors import CIMError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="City information model: build, inspect, analyse and serve a city store.",
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

StoreOpt = Annotated[
    str,
    typer.Option(
        "--store",
        "-s",
        envvar="CIM_STORE",
        help="Store: a SQLite file path, a postgresql:// URL or a libpq keyword string (or CIM_STORE).",
    ),
]


def fail(exc: CIMError) -> None:
    """Print a domain error and exit with status 2."""
    err_console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(2)


def main() -> None:
    """The ``cim`` entry point."""
    app()


def _only_tiles(argv: list[str]) -> bool:
    """Whether this process is the command line running ``cim tiles ...`` (``python -m cim.cli tiles`` or the
    ``cim`` script): then only the tiles commands are loaded, not every analysis's (a third of a second of
    the start-up of ``cim tiles build``, which runs ahead of its worker processes)."""
    import os.path

    return len(argv) > 1 and argv[1] == "tiles" and (argv[0] == "-m" or os.path.basename(argv[0]) in ("cim", "cim.exe"))


# each module below registers its commands on ``app``
if _only_tiles(__import__("sys").argv):
    from . import tiles  # noqa: E402, F401
else:
    from . import core  # noqa: E402, F401, I001
    from . import export  # noqa: E402, F401
    from . import screen  # noqa: E402, F401
    from . import analysis  # noqa: E402, F401
    from . import registered  # noqa: E402, F401  (cim analyse <id> for every registered analysis)
    from . import tiles  # noqa: E402, F401
    from . import versions  # noqa: E402, F401
