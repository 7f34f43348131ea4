"""GeoJSON encoding of features, with one vectorised CRS transform per batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel

from .collections import CollectionSpec
from .crs import OutputCRS


def _nest(gtype: str, parts: list[np.ndarray]) -> list[Any]:
    if gtype == "Point":
        return parts[0][0].tolist()
    if gtype == "LineString":
        return parts[0].tolist()
    return [p.tolist() for p in parts]


def encode_features(
    spec: CollectionSpec, features: Sequence[BaseModel], out: OutputCRS
) -> list[dict[str, Any]]:
    """GeoJSON Feature dicts for ``features``, coordinates written in ``out``.

    All the batch's vertices go through pyproj in one call; z (metres, city height datum) is
    passed through unchanged and rounded to the millimetre.
    """
    geoms = [spec.geometry(f) for f in features]
    arrays = [a for _, parts in geoms for a in parts]
    if arrays:
        xy = out.xy(np.concatenate([a[:, :2] for a in arrays]))
        splits = np.cumsum([len(a) for a in arrays])[:-1]
        new = [
            np.column_stack([p, np.round(a[:, 2], 3)]) if a.shape[1] == 3 else p
            for p, a in zip(np.split(xy, splits), arrays, strict=True)
        ]
    else:
        new = []
    result, k = [], 0
    for f, (gtype, parts) in zip(features, geoms, strict=True):
        n = len(parts)
        result.append({
            "type": "Feature",
            "id": f.id,  # type: ignore[attr-defined]
            "geometry": {"type": gtype, "coordinates": _nest(gtype, new[k:k + n])},
            "properties": spec.properties(f),
        })
        k += n
    return result
