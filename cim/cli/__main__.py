"""``python -m cim.cli``: the ``cim`` command."""

from . import main

main()
