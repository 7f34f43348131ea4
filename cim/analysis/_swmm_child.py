"""One SWMM run in a process of its own: ``python -m cim.analysis._swmm_child MODEL.inp`` writes the pickled
``("ok", statistics)`` or ``("error", exception)`` to standard output (see :func:`cim.analysis.drainage.simulate`)."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path


def main() -> None:
    from .drainage import run_here

    answer = os.dup(1)  # the pickle goes here; anything the engine prints goes to standard error
    os.dup2(2, 1)
    try:
        out: tuple[str, object] = ("ok", run_here(Path(sys.argv[1])))
    except Exception as exc:  # noqa: BLE001 - handed to the parent, which raises it
        try:
            pickle.dumps(exc)
            out = ("error", exc)
        except Exception:  # noqa: BLE001 - an exception that does not pickle goes as its text
            out = ("error", RuntimeError(f"{type(exc).__name__}: {exc}"))
    sys.stdout.flush()
    with os.fdopen(answer, "wb") as f:
        f.write(pickle.dumps(out))


if __name__ == "__main__":
    main()
