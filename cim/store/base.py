"""The Store protocol: the one contract every backend (SQLite, PostGIS) implements.

The contract test suite (``tests/store/test_contract.py``) runs against every backend; the
comment on each method says which route or command relies on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
import shapely
from pydantic import BaseModel

from ..model import City
from ..terrain import Terrain
from ..typed import Bounds3


@dataclass(frozen=True)
class Region:
    """A spatial filter in city coordinates (metres): a 2-D polygon and an optional z range.

    A feature matches when its 2-D geometry (footprint, centreline or point) intersects the
    polygon and, if a z range is given, its solid's vertical extent overlaps [zmin, zmax].
    """

    polygon: shapely.Geometry
    zmin: float | None = None
    zmax: float | None = None

    @classmethod
    def box(cls, minx: float, miny: float, maxx: float, maxy: float,
            zmin: float | None = None, zmax: float | None = None) -> Region:
        return cls(shapely.box(minx, miny, maxx, maxy), zmin, zmax)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return tuple(self.polygon.bounds)  # type: ignore[return-value]

    def select(self, fids: np.ndarray, boxes: np.ndarray, load_geoms) -> np.ndarray:
        """Exact test of index candidates.

        ``boxes`` (n, 4) minx, miny, maxx, maxy of each candidate's solid; candidates whose box lies
        inside the polygon match at once; the others are tested on their 2-D geometry, which
        ``load_geoms(fids)`` returns as shapely geometries in the same order.  Returns the matching
        fids, sorted.
        """
        if len(fids) == 0:
            return fids
        shapely.prepare(self.polygon)
        inside = shapely.contains(self.polygon, shapely.box(boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]))
        unsure = fids[~inside]
        if len(unsure):
            geoms = np.asarray(load_geoms(unsure), dtype=object)
            hit = shapely.intersects(self.polygon, geoms)
            fids = np.concatenate([fids[inside], unsure[hit]])
        else:
            fids = fids[inside]
        return np.sort(fids)


@dataclass
class Page:
    """One page of a query: the features and how many matched in all."""

    features: list[BaseModel]
    matched: int
    extra: dict = field(default_factory=dict)


@runtime_checkable
class Store(Protocol):
    """A city model store.  Coordinates are metres in the city CRS (see ``cim.model``)."""

    url: str

    def init(self, city: City, *, overwrite: bool = False) -> None:
        """Create an empty city (``cim init``).  ``overwrite`` drops any existing content."""

    def city(self) -> City:
        """The city's metadata (every route).  StoreError if the store is not initialised."""

    def write(self, features: Iterable[BaseModel], *, terrain: Terrain | None = None,
              replace: bool = False) -> dict[str, int]:
        """Add features (and terrain) in one transaction: all land or none (imports, ``cim sample``).

        A duplicate id raises DuplicateFeature unless ``replace``; returns counts per collection.
        """

    def counts(self) -> dict[str, int]:
        """Features per collection (``cim info``, ``/collections``)."""

    def bounds(self, collection: str) -> Bounds3 | None:
        """3-D bounds of a collection's solids, or None when empty (collection extents)."""

    def query(self, collection: str, *, region: Region | None = None,
              limit: int | None = None, offset: int = 0) -> Page:
        """Features in id-insertion order, filtered by region, paged (``/items``)."""

    def iter_features(self, collection: str, *, region: Region | None = None,
                      batch: int = 1000) -> Iterator[BaseModel]:
        """Every matching feature, streamed in batches (exports, analyses)."""

    def get(self, collection: str, fid: str) -> BaseModel:
        """One feature by id, or FeatureNotFound (``/items/{fid}``)."""

    def terrain(self) -> Terrain | None:
        """The terrain DEM, if any (analyses, meshes)."""

    def version(self) -> int:
        """A number that grows with every write (cache keys for tiles and counts)."""

    def integrity_check(self) -> bool:
        """True when the backend's own consistency checks pass (crash-safety tests)."""

    def close(self) -> None:
        """Release connections."""
