"""The 3D Tiles layers of a city and the feature properties each one carries.

``buildings`` (collection buildings), ``pipes`` (pipes and pipe-nodes: manholes and other chambers),
``underground-structures`` and ``terrain`` (the DEM).  Each feature layer has one metadata class;
its property table (EXT_structural_metadata) holds, per feature, its ``id`` and ``collection`` (so a
client can fetch ``/collections/{collection}/items/{id}``) and the attributes listed below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from cim.collections import collection_of
from cim.model import PipeNode, PipeSegment
from cim.terrain import Terrain

from .gltf import Column, FeatureTable, Kind

Values = Callable[[Sequence[Any], Terrain | None], Sequence[Any]]


def _plain(v: Any) -> Any:
    return v.value if isinstance(v, Enum) else v


@dataclass(frozen=True)
class Attr:
    """The values of one attribute of the features (enums as their values)."""

    name: str

    def __call__(self, feats: Sequence[Any], terrain: Terrain | None) -> list[Any]:
        return [_plain(getattr(f, self.name, None)) for f in feats]


def attr(name: str) -> Values:
    return Attr(name)


def _collections(feats: Sequence[Any], terrain: Terrain | None) -> list[str]:
    return [collection_of(f) for f in feats]


def _pipe_depth(feats: Sequence[Any], terrain: Terrain | None) -> list[float | None]:
    """Pipes: the least cover over the pipe's top along its centreline (terrain minus top, m; None
    without terrain); nodes: their depth below the cover."""
    out: list[float | None] = [getattr(f, "depth", None) if isinstance(f, PipeNode) else None for f in feats]
    pipes = [k for k, f in enumerate(feats) if isinstance(f, PipeSegment)]
    if terrain is None or not pipes:
        return out
    coords = [feats[k].coords() for k in pipes]
    pts = np.concatenate(coords)
    top = pts[:, 2] + np.repeat([feats[k].outer_height / 2 for k in pipes], [len(c) for c in coords])
    cover = terrain.sample(pts[:, :2]) - top
    starts = np.cumsum([0] + [len(c) for c in coords[:-1]])
    least = np.fmin.reduceat(cover, starts)
    for k, v in zip(pipes, least, strict=True):
        out[k] = None if not np.isfinite(v) else round(float(v), 3)
    return out


def _kind(feats: Sequence[Any], terrain: Terrain | None) -> list[str]:
    return ["pipe" if isinstance(f, PipeSegment) else _plain(getattr(f, "kind", "")) for f in feats]


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: Kind
    values: Values
    description: str


@dataclass(frozen=True)
class Layer:
    name: str
    title: str
    collections: tuple[str, ...]
    class_name: str
    columns: tuple[ColumnSpec, ...]
    refine: str = "ADD"

    def table(self, features: Sequence[Any], terrain: Terrain | None = None) -> FeatureTable:
        """The property table of ``features`` (rows in their order)."""
        cols = []
        for c in self.columns:
            vals = list(c.values(features, terrain))
            arr = np.empty(len(vals), dtype=object)
            arr[:] = vals
            cols.append(Column(c.name, c.kind, arr, c.description))
        return FeatureTable(self.class_name, cols, self.title)


_COMMON = (
    ColumnSpec("id", "STRING", attr("id"), "Feature id in its collection."),
    ColumnSpec("collection", "STRING", _collections, "OGC API collection of the feature."),
    ColumnSpec("name", "STRING", attr("name"), "Name, if any."),
)

LAYERS: dict[str, Layer] = {
    layer.name: layer
    for layer in (
        Layer(
            "buildings",
            "Buildings",
            ("buildings",),
            "building",
            _COMMON
            + (
                ColumnSpec("use", "STRING", attr("use"), "Building use."),
                ColumnSpec("height", "FLOAT64", attr("height"), "Height above ground, m."),
                ColumnSpec(
                    "ground_elevation", "FLOAT64", attr("ground_elevation"), "Ground elevation, m (city datum)."
                ),
                ColumnSpec("roof_elevation", "FLOAT64", attr("roof_elevation"), "Roof elevation, m (city datum)."),
                ColumnSpec("floors_above", "INT32", attr("floors_above"), "Storeys above ground."),
                ColumnSpec("floors_below", "INT32", attr("floors_below"), "Storeys below ground."),
                ColumnSpec("year_built", "INT32", attr("year_built"), "Year built."),
                ColumnSpec("structure", "STRING", attr("structure"), "Structure type."),
            ),
        ),
        Layer(
            "pipes",
            "Pipes and manholes",
            ("pipes", "pipe-nodes"),
            "network",
            _COMMON
            + (
                ColumnSpec("kind", "STRING", _kind, "'pipe', or the node kind (manhole, valve, ...)."),
                ColumnSpec("utility", "STRING", attr("utility"), "Utility type (GB 50289)."),
                ColumnSpec("diameter", "FLOAT64", attr("diameter"), "Outer diameter (pipes) or chamber diameter, m."),
                ColumnSpec("width", "FLOAT64", attr("width"), "Box section outer width, m."),
                ColumnSpec("section_height", "FLOAT64", attr("section_height"), "Box section outer height, m."),
                ColumnSpec(
                    "depth",
                    "FLOAT64",
                    _pipe_depth,
                    "Pipes: least cover over the top, m; nodes: depth below the cover, m.",
                ),
                ColumnSpec("material", "STRING", attr("material"), "Pipe material."),
                ColumnSpec("year", "INT32", attr("year"), "Year laid."),
            ),
        ),
        Layer(
            "underground-structures",
            "Underground structures",
            ("underground-structures",),
            "structure",
            _COMMON
            + (
                ColumnSpec("kind", "STRING", attr("kind"), "Basement, tunnel, utility tunnel, ..."),
                ColumnSpec("top_elevation", "FLOAT64", attr("top_elevation"), "Top elevation, m (prisms)."),
                ColumnSpec("bottom_elevation", "FLOAT64", attr("bottom_elevation"), "Bottom elevation, m (prisms)."),
                ColumnSpec("width", "FLOAT64", attr("width"), "Section width or diameter, m (tunnels)."),
                ColumnSpec("section_height", "FLOAT64", attr("section_height"), "Section height, m (box tunnels)."),
                ColumnSpec("building_id", "STRING", attr("building_id"), "Building above (basements)."),
                ColumnSpec("year", "INT32", attr("year"), "Year built."),
            ),
        ),
        Layer(
            "terrain",
            "Terrain",
            (),
            "terrain",
            (ColumnSpec("id", "STRING", lambda feats, terrain: ["terrain"], "Always 'terrain'."),),
            refine="REPLACE",
        ),
    )
}


def layer(name: str) -> Layer:
    """The layer called ``name``; KeyError naming the layers otherwise."""
    try:
        return LAYERS[name]
    except KeyError:
        raise KeyError(f"no layer {name!r}; the layers are {', '.join(LAYERS)}") from None


def layer_of_collection(collection: str) -> Layer:
    """The layer that draws a collection's features."""
    for lay in LAYERS.values():
        if collection in lay.collections:
            return lay
    raise KeyError(f"no layer draws collection {collection!r}")
