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


def project(spec: CollectionSpec, features: Sequence[BaseModel], out: OutputCRS) -> list[tuple[str, list]]:
    """Every feature's geometry as (GeoJSON type, parts) with coordinates in ``out``, in one pyproj call."""
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
    for gtype, parts in geoms:
        result.append((gtype, new[k : k + len(parts)]))
        k += len(parts)
    return result


def select(props: dict[str, Any], names: Sequence[str] | None) -> dict[str, Any]:
    """Only the named properties (all when ``names`` is None), in the order asked for."""
    return props if names is None else {n: props[n] for n in names if n in props}


def encode_features(
    spec: CollectionSpec,
    features: Sequence[BaseModel],
    out: OutputCRS,
    *,
    properties: Sequence[str] | None = None,
    skip_geometry: bool = False,
) -> list[dict[str, Any]]:
    """GeoJSON Feature dicts for ``features``, coordinates written in ``out``.

    All the batch's vertices go through pyproj in one call; z (metres, city height datum) is
    passed through unchanged and rounded to the millimetre.  ``properties`` keeps only those;
    ``skip_geometry`` writes ``"geometry": null``.
    """
    geoms = [None] * len(features) if skip_geometry else project(spec, features, out)
    return [
        {
            "type": "Feature",
            "id": f.id,  # type: ignore[attr-defined]
            "geometry": None if g is None else {"type": g[0], "coordinates": _nest(g[0], g[1])},
            "properties": select(spec.properties(f), properties),
        }
        for f, g in zip(features, geoms, strict=True)
    ]
