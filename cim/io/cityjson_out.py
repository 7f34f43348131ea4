"""CityJSON 2.0 and CityJSONSeq output of any collection, streamed, and the way back in.

Buildings become ``Building`` with an LOD1 ``Solid`` (ground, roof, walls with semantics) plus every LOD
they carry; basements and shelters become ``GenericCityObject`` solids; tunnels ``Tunnel`` with their
centreline; pipes and nodes ``GenericCityObject`` multi-lines and multi-points.  Each object carries the
standard attributes (``measuredHeight``, ``yearOfConstruction``, ...), the source attributes, and
``cim:collection`` with ``cim:model`` (the model's other fields), so a CityJSON export imports back as
the same features (``from_cim_object``, used by the CityJSON reader).

Coordinates: the city CRS, metres, quantised to the millimetre (``transform.scale`` 0.001).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Any

import numpy as np
import orjson
import shapely
from pydantic import BaseModel

from ..collections import CollectionSpec, get_spec
from ..crs import epsg_uri
from ..model import Building, City, LodGeometry, PipeNode, PipeSegment, Surface, UndergroundStructure

SCALE = 0.001
_SEM = {"ground": "GroundSurface", "roof": "RoofSurface", "wall": "WallSurface"}
_SEM_BACK = {v: k for k, v in _SEM.items()}
VERSION = "2.0"


def _ccw(rings: list[list[tuple[float, float]]]) -> list[np.ndarray]:
    poly = (
        shapely.orient_polygons(shapely.Polygon(rings[0], rings[1:]))
        if hasattr(shapely, "orient_polygons")
        else shapely.geometry.polygon.orient(shapely.Polygon(rings[0], rings[1:]))
    )
    return [np.asarray(poly.exterior.coords)[:-1]] + [np.asarray(r.coords)[:-1] for r in poly.interiors]


class _Obj:
    """One object being written: its local vertices (metres) and boundaries with local indices."""

    def __init__(self) -> None:
        self.verts: list[np.ndarray] = []
        self.n = 0

    def add(self, xyz: np.ndarray) -> list[int]:
        self.verts.append(np.asarray(xyz, dtype=float).reshape(-1, 3))
        idx = list(range(self.n, self.n + len(self.verts[-1])))
        self.n += len(self.verts[-1])
        return idx

    def array(self) -> np.ndarray:
        return np.concatenate(self.verts) if self.verts else np.zeros((0, 3))


def _prism(o: _Obj, rings: list[list[tuple[float, float]]], bottom: float, top: float, lod: str = "1") -> dict:
    """A closed solid: footprint rings between two elevations, with Ground/Roof/Wall semantics."""
    rr = _ccw(rings)
    b = [o.add(np.column_stack([r, np.full(len(r), bottom)])) for r in rr]
    t = [o.add(np.column_stack([r, np.full(len(r), top)])) for r in rr]
    surfaces = [[list(reversed(x)) for x in b], [list(x) for x in t]]
    values = [0, 1]
    for bi, ti in zip(b, t, strict=True):
        for i in range(len(bi)):
            j = (i + 1) % len(bi)
            surfaces.append([[bi[i], bi[j], ti[j], ti[i]]])
            values.append(2)
    return {
        "type": "Solid",
        "lod": lod,
        "boundaries": [surfaces],
        "semantics": {
            "surfaces": [{"type": "GroundSurface"}, {"type": "RoofSurface"}, {"type": "WallSurface"}],
            "values": [values],
        },
    }


def _surfaces_geom(o: _Obj, surfaces: list[Surface], lod: str, kind: str) -> dict:
    bounds, values, types = [], [], []  # type: ignore[var-annotated]
    for s in surfaces:
        bounds.append([o.add(np.asarray(r, dtype=float)) for r in s.rings])
        if s.type is None:
            values.append(None)  # type: ignore[arg-type]
        else:
            name = _SEM[s.type.value]
            if name not in types:
                types.append(name)
            values.append(types.index(name))
    geom: dict[str, Any] = {
        "type": "MultiSurface" if kind == "MultiSurface" else "CompositeSurface",
        "lod": lod,
        "boundaries": bounds,
    }
    if kind in ("Solid", "CompositeSolid", "MultiSolid"):
        geom = {"type": "Solid", "lod": lod, "boundaries": [bounds]}
        values = [values]  # type: ignore[list-item]
    if types:
        geom["semantics"] = {"surfaces": [{"type": t} for t in types], "values": values}
    return geom


def _line(o: _Obj, pts: list[tuple[float, float, float]]) -> dict:
    return {"type": "MultiLineString", "lod": "1", "boundaries": [o.add(np.asarray(pts, dtype=float))]}


def _object(spec: CollectionSpec, f: BaseModel) -> tuple[dict, np.ndarray]:
    """(CityObject with local vertex indices, (n, 3) vertices in metres)."""
    o = _Obj()
    extra = {"surfaces", "lods"} if isinstance(f, Building) else set()
    model = f.model_dump(mode="json", exclude=spec.geometry_fields | extra | {"id", "attributes"}, exclude_none=True)  # type: ignore[arg-type]
    attrs: dict[str, Any] = {**f.attributes, "cim:collection": spec.id, "cim:model": model}  # type: ignore[attr-defined]
    geoms: list[dict] = []
    if isinstance(f, Building):
        ctype = "Building"
        attrs.update({"measuredHeight": f.height, "function": f.use.value})
        if f.year_built is not None:
            attrs["yearOfConstruction"] = f.year_built
        if f.floors_above is not None:
            attrs["storeysAboveGround"] = f.floors_above
        attrs["storeysBelowGround"] = f.floors_below
        geoms.append(_prism(o, f.footprint, f.ground_elevation, f.roof_elevation))  # type: ignore[arg-type]
        attrs["cim:geometry"] = "lods" if f.lods else ("surfaces" if f.surfaces else "lod1")
        for g in f.lods or []:
            geoms.append(_surfaces_geom(o, g.surfaces, g.lod, g.kind))
        if f.surfaces and not f.lods:
            geoms.append(_surfaces_geom(o, f.surfaces, "2", "MultiSurface"))
    elif isinstance(f, UndergroundStructure):
        ctype = "Tunnel" if f.kind.value in ("tunnel", "utility_tunnel") else "GenericCityObject"
        if f.footprint is not None:
            geoms.append(_prism(o, f.footprint, f.bottom_elevation, f.top_elevation))  # type: ignore[arg-type]
        else:
            geoms.append(_line(o, f.centreline))  # type: ignore[arg-type]
    elif isinstance(f, PipeSegment):
        ctype = "GenericCityObject"
        geoms.append(_line(o, f.centreline))
    elif isinstance(f, PipeNode):
        ctype = "GenericCityObject"
        geoms.append({"type": "MultiPoint", "lod": "1", "boundaries": o.add(np.asarray([f.position]))})
    else:  # pragma: no cover
        raise TypeError(type(f))
    return {"type": ctype, "attributes": attrs, "geometry": geoms}, o.array()


def _shift(node: Any, k: int) -> Any:
    if isinstance(node, list):
        return [_shift(v, k) for v in node]
    return node + k if isinstance(node, int) else node


def _quantise(v: np.ndarray, translate: np.ndarray) -> np.ndarray:
    return np.rint((v - translate) / SCALE).astype(np.int64)


def header(city: City, translate: np.ndarray) -> dict[str, Any]:
    """The CityJSON metadata object that opens a file or a CityJSONSeq stream (transform, CRS, extent)."""
    return {
        "type": "CityJSON",
        "version": VERSION,
        "transform": {"scale": [SCALE, SCALE, SCALE], "translate": [float(v) for v in translate]},
        "metadata": {
            "referenceSystem": epsg_uri(city.crs_epsg).replace("http://", "https://"),
            "title": city.name,
            "cim:verticalDatum": city.vertical_datum,
        },
    }


def _translate(first: BaseModel | None, spec: CollectionSpec) -> np.ndarray:
    if first is None:
        return np.zeros(3)
    b = spec.bounds(first)
    return np.floor(np.array([b[0], b[1], b[2]]))


def cityjsonseq_chunks(city: City, spec: CollectionSpec, features: Iterable[BaseModel]) -> Iterator[bytes]:
    """CityJSONSeq: the header line, then one ``CityJSONFeature`` per feature."""
    it = iter(features)
    first = next(it, None)
    translate = _translate(first, spec)
    yield orjson.dumps({**header(city, translate), "CityObjects": {}, "vertices": []}) + b"\n"
    if first is None:
        return
    for feat in chain([first], it):
        obj, verts = _object(spec, feat)
        yield (
            orjson.dumps(
                {
                    "type": "CityJSONFeature",
                    "id": feat.id,  # type: ignore[attr-defined]
                    "CityObjects": {feat.id: obj},  # type: ignore[attr-defined]
                    "vertices": _quantise(verts, translate),
                },
                option=orjson.OPT_SERIALIZE_NUMPY,
            )
            + b"\n"
        )


def cityjson_chunks(city: City, spec: CollectionSpec, features: Callable[[], Iterable[BaseModel]]) -> Iterator[bytes]:
    """One CityJSON document, streamed in two passes over ``features()``: the vertices, then the objects
    (each pass encodes one feature at a time, so memory stays bounded)."""
    first = next(iter(features()), None)
    translate = _translate(first, spec)
    head = orjson.dumps(header(city, translate))
    yield head[:-1] + b',"vertices":['
    sep = b""
    for feat in features():
        _, verts = _object(spec, feat)
        if len(verts):
            q = _quantise(verts, translate)
            yield sep + b",".join(orjson.dumps(row, option=orjson.OPT_SERIALIZE_NUMPY) for row in q)
            sep = b","
    yield b'],"CityObjects":{'
    base, sep = 0, b""
    for feat in features():
        obj, verts = _object(spec, feat)
        for g in obj["geometry"]:
            g["boundaries"] = _shift(g["boundaries"], base)
        base += len(verts)
        yield sep + orjson.dumps(feat.id) + b":" + orjson.dumps(obj)  # type: ignore[attr-defined]
        sep = b","
    yield b"}}"


# -- the way back ----------------------------------------------------------------------------------
def _rings(boundary: list, xyz: np.ndarray) -> list[np.ndarray]:
    return [xyz[np.asarray(r, dtype=np.int64)] for r in boundary]


def _semantic_surfaces(geom: dict, xyz: np.ndarray) -> list[Surface]:
    b = geom["boundaries"]
    polys = b[0] if geom["type"] == "Solid" else b
    sem = geom.get("semantics") or {}
    values = sem.get("values")
    values = values[0] if geom["type"] == "Solid" and values else values
    out = []
    for k, poly in enumerate(polys):
        t = None
        if values is not None and values[k] is not None:
            t = _SEM_BACK.get(sem["surfaces"][values[k]]["type"])
        out.append(Surface(type=t, rings=[[tuple(p) for p in r] for r in _rings(poly, xyz)]))
    return out


def from_cim_object(oid: str, obj: dict, xyz: np.ndarray) -> BaseModel:
    """The feature a ``cim:`` CityObject was written from (``xyz``: the file's vertices in the city CRS)."""
    attrs = dict(obj.get("attributes") or {})
    spec = get_spec(attrs.pop("cim:collection"))
    model = attrs.pop("cim:model", {})
    for k in ("measuredHeight", "function", "yearOfConstruction", "storeysAboveGround", "storeysBelowGround"):
        if spec.id == "buildings":
            attrs.pop(k, None)
    geoms = obj.get("geometry") or []
    data: dict[str, Any] = {**model, "id": oid, "attributes": attrs}
    g0 = geoms[0]
    if g0["type"] == "Solid":
        top = _rings(g0["boundaries"][0][1], xyz)
        data["footprint"] = [[tuple(p[:2]) for p in r] for r in top]
    elif g0["type"] == "MultiLineString":
        data["centreline"] = [tuple(p) for p in xyz[np.asarray(g0["boundaries"][0], dtype=np.int64)]]
    elif g0["type"] == "MultiPoint":
        data["position"] = tuple(xyz[int(g0["boundaries"][0])])
    how = attrs.pop("cim:geometry", None)
    if spec.id == "buildings" and len(geoms) > 1:
        lods = [LodGeometry(lod=g["lod"], kind=g["type"], surfaces=_semantic_surfaces(g, xyz)) for g in geoms[1:]]
        if how == "lods":
            data["lods"] = lods
            data["surfaces"] = max(lods, key=lambda g: float(g.lod)).surfaces
        else:
            data["surfaces"] = lods[0].surfaces
    return spec.model.model_validate(data)
