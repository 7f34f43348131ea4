"""Copy a whole city from one store to another (e.g. SQLite -> PostGIS when a city outgrows a file)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from pydantic import BaseModel

from ..collections import COLLECTIONS
from .base import Store


def copy_store(
    src: Store, dst: Store, *, overwrite: bool = False, progress: Callable[[str, float], None] | None = None
) -> dict[str, int]:
    """Initialise ``dst`` with ``src``'s city and write every feature, the terrain and the building points
    in one transaction (all or nothing).  Returns counts per collection."""
    dst.init(src.city(), overwrite=overwrite)
    total = max(sum(src.counts().values()), 1)

    def features() -> Iterator[BaseModel]:
        done = 0
        for cid in COLLECTIONS:
            for f in src.iter_features(cid, batch=5000):
                done += 1
                if progress and done % 5000 == 0:
                    progress(f"copying {cid}", done / total)
                yield f

    return dst.write(features(), terrain=src.terrain(), building_points=src.building_points())
