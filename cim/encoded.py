"""A feature already encoded for a store: what a fast reader hands the store instead of a pydantic model.

An :class:`Encoded` carries exactly what :func:`cim.store.base.prepare_rows` would compute from the model
(the JSON document ``model_dump(mode="json", exclude_none=True)`` as bytes, the 2-D shapely geometry, the
3-D box and, where the reader made it, the CRS84 GeoJSON kept beside the row), plus the points the placement
checks need (:mod:`cim.io.placement`).  ``model()`` builds the pydantic model from the document when one is
needed (clash checks, ``cim.io.read``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(slots=True)
class Encoded:
    """One feature as the store writes it, and the points its placement is checked on."""

    collection: str  # collection id, e.g. "buildings"
    id: str
    doc: bytes  # orjson of model_dump(mode="json", exclude_none=True) (zlib of it where ``packed``)
    shape: Any  # shapely geometry, 2-D, city CRS
    box: tuple[float, float, float, float, float, float]  # minx, miny, minz, maxx, maxy, maxz, metres
    xy: np.ndarray  # (n, 2) float: the footprint's points, metres (placement checks)
    z: tuple[float, ...]  # heights to check (ground, roof), metres
    kind: str = "Building"  # the model's class name (import reports)
    gj: bytes | None = None  # its CRS84 GeoJSON Feature as ``/items`` writes it (cim.store.base.encode_geojson)
    gj_epsg: int = 0  # the city CRS ``gj`` was projected from (0: no ``gj``)
    packed: bool = False  # ``doc`` is zlib-compressed (from a worker process: cim.io._seq_pool); see document()

    def document(self) -> bytes:
        """The JSON document's bytes (``doc``, decompressed where it is packed)."""
        if self.packed:
            import zlib

            return zlib.decompress(self.doc)
        return self.doc

    def model(self) -> Any:
        """The validated pydantic model of the document."""
        from .collections import get_spec

        return get_spec(self.collection).model.model_validate_json(self.document())
