"""City-service layers: streets, facilities and communities from GeoJSON (``--collection``) and OpenStreetMap.

**GeoJSON** (``cim import FILE --collection streets|facilities|communities``): CRS rules as for the GeoJSON
profile (:mod:`cim.io.geojson`: RFC 7946 CRS84, a legacy ``crs`` member, or ``--crs``); property names are
matched case-insensitively; properties not used are kept in ``attributes``.

* streets: ``LineString`` (or a one-part ``MultiLineString``); ``class`` [``highway``, ``street_class``],
  ``name``, ``walkable`` (default true), ``drivable`` (default true).  Streets meet where they share a vertex.
* facilities: ``Point`` or ``Polygon``; ``kind`` (the vocabulary of ``cim/rules/living_circles.toml``),
  ``name``, ``floor_area``, ``site_area`` (m²), ``capacity``, ``shelter_class``, ``effective_area`` (m²).
* communities: ``Polygon`` (or ``MultiPolygon``: the largest part, with a warning); ``name``, ``population``,
  ``level``.

**OpenStreetMap** (``.osm`` XML, ``.osm.pbf``; read with the ``osmium`` package): ways tagged ``highway`` with a
value of ``cim/rules/osm_tags.toml`` become streets (``class`` = the highway value; walkable and drivable from
the lists there, ``foot=no``/``access=no`` not walkable, ``foot=yes|designated`` walkable); nodes and closed ways
matching a facility rule there become facilities (points; site polygons for closed ways); ``building:levels`` is
kept; a ``name`` tag is the name.  Ids are ``osm-node-<id>`` / ``osm-way-<id>`` (streets: ``osm-way-<id>``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..layers import Community, Facility, Street
from .base import ImportContext, ImportError_, ImportResult
from .geojson import _Reader
from .registry import register
from .reproject import resolve_crs, to_city

LAYERS = ("streets", "facilities", "communities")
_GEOMETRY = {"streets": ("LineString",), "facilities": ("Point", "Polygon"), "communities": ("Polygon",)}
_NAMES: dict[str, dict[str, tuple[str, ...]]] = {  # collection -> canonical property -> accepted names
    "streets": {"name": ("name",), "class": ("class", "street_class", "highway"), "walkable": ("walkable",)}
    | {"drivable": ("drivable",), "id": ("id",)},
    "facilities": {
        k: (k,)
        for k in ("id", "name", "kind", "floor_area", "site_area", "capacity", "shelter_class", "effective_area")
    },
    "communities": {k: (k,) for k in ("id", "name", "population", "level")},
}


def is_osm(path: Path, head: bytes | None = None) -> bool:
    """Whether a file is OpenStreetMap data: a ``.pbf`` name, or ``<osm`` in its first 4 KiB (``head``, else read)."""
    name = path.name.lower()
    if name.endswith((".osm.pbf", ".pbf")):
        return True
    if head is None:
        try:
            with open(path, "rb") as fh:
                head = fh.read(4096)
        except OSError:
            return False
    return b"<osm" in head[:4096]


def read_layer(path: str | Path, ctx: ImportContext, collection: str, fmt: str | None = None) -> ImportResult:
    """One file into ``collection`` (streets, facilities or communities): GeoJSON, or an OSM file."""
    path = Path(path)
    if collection not in LAYERS:
        raise ImportError_(
            f"--collection {collection!r} is not a layer this importer reads; use one of {', '.join(LAYERS)}.",
            file=ctx.filename or path.name,
            parameter="collection",
        )
    ctx.filename = ctx.filename or path.name
    if fmt == "osm" or (fmt is None and is_osm(path)):
        if collection == "communities":
            raise ImportError_("OpenStreetMap files give streets and facilities, not communities.", file=ctx.filename)
        result = OSMReader().read(path, ctx, only=collection)
    else:
        result = _LayerReader(path, ctx, collection).run()
        result.format = "geojson"
    return result


class _LayerReader(_Reader):
    """The GeoJSON reader's parsing and CRS handling, with the layers' properties."""

    def __init__(self, path: Path, ctx: ImportContext, collection: str) -> None:
        super().__init__(path, ctx)
        self.collection = collection

    def run(self) -> ImportResult:
        doc = self._load()
        feats: list[Any] = []
        coords: list[np.ndarray] = []
        n = 0
        for k, fj in enumerate(self._features(doc)):
            f = self._parse(k, fj, coords, n)
            if f is not None:
                if f.kind not in _GEOMETRY[self.collection]:
                    raise self.error(
                        f"Feature {f.fid}: a {f.kind} cannot be one of the {self.collection}; "
                        f"use {' or '.join(_GEOMETRY[self.collection])}.",
                        f.fid,
                    )
                feats.append(f)
                n = f.stop
        allc = np.concatenate(coords) if coords else np.zeros((0, 3))
        src, label = self._crs(doc, allc, feats)
        xy = self._to_city(allc, src, feats)
        out = [self._layer(f, xy[f.start : f.stop, :2]) for f in feats]
        self.ctx.report(1.0)
        return ImportResult(features=out, source_crs=label, warnings=self._warnings(), info={self.collection: len(out)})

    def _get(self, f, canon: str) -> tuple[Any, set[str]]:
        names = _NAMES[self.collection][canon]
        found = [(k, v) for k, v in f.raw.items() if k.lower() in names and v is not None]
        if len({repr(v) for _, v in found}) > 1:
            raise self.error(f"Feature {f.fid}: {', '.join(f'{k}={v!r}' for k, v in found)} disagree.", f.fid)
        return (found[0][1] if found else None), {k for k, _ in found}

    def _layer(self, f, xy: np.ndarray):
        values: dict[str, Any] = {}
        used: set[str] = set()
        for canon in _NAMES[self.collection]:
            v, keys = self._get(f, canon)
            used |= keys
            if v is not None and canon != "id":
                values[canon] = v
        for key in ("floor_area", "site_area", "capacity", "effective_area"):
            if key in values:
                values[key] = self._num(values[key], key, f.fid)
        if "population" in values:
            p = self._num(values["population"], "population", f.fid)
            if p != int(p):
                raise self.error(f"Feature {f.fid}: `population` must be a whole number, not {p!r}.", f.fid)
            values["population"] = int(p)
        for key in ("walkable", "drivable"):
            if key in values:
                b = _bool(values[key])
                if b is None:
                    raise self.error(f"Feature {f.fid}: `{key}` must be true or false, not {values[key]!r}.", f.fid)
                values[key] = b
        for key in ("name", "class", "kind", "shelter_class", "level"):
            if key in values:
                values[key] = str(values[key])
        attrs = {k: v for k, v in f.raw.items() if k not in used}
        if self.collection == "streets":
            values["street_class"] = values.pop("class", None)
            return self._build(Street, f, id=f.fid, centreline=[tuple(p) for p in xy], attributes=attrs, **values)
        if f.kind == "Polygon":
            rings = self._rings(f, xy)
            if self.collection == "facilities":
                return self._build(Facility, f, id=f.fid, footprint=rings, attributes=attrs, **values)
            return self._build(Community, f, id=f.fid, footprint=rings, attributes=attrs, **values)
        return self._build(Facility, f, id=f.fid, position=tuple(xy[0]), attributes=attrs, **values)

    def _rings(self, f, xy: np.ndarray) -> list[list[tuple[float, float]]]:
        polys, k = [], 0
        for lens in f.parts:
            rings = []
            for n in lens:
                rings.append([tuple(p) for p in xy[k : k + n]])
                k += n
            polys.append(rings)
        if len(polys) > 1:
            polys.sort(key=lambda rs: -abs(_area(np.asarray(rs[0]))))
        return polys[0]


def _area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return 0.5 * float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _bool(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    if isinstance(v, str) and v.lower() in ("true", "yes", "1", "false", "no", "0"):
        return v.lower() in ("true", "yes", "1")
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    return None


# -- OpenStreetMap ------------------------------------------------------------------------------------------------
def _facility_kind(tags: dict[str, str], rules: list[dict[str, Any]]) -> str | None:
    for r in rules:
        if all(tags.get(k) == v or (v == "*" and k in tags) for k, v in r["tags"].items()):
            return r["kind"]
    return None


def _num_tag(v: str | None) -> float | None:
    if v is None:
        return None
    try:
        x = float(v.replace("m2", "").replace("m²", "").strip())
    except ValueError:
        return None
    return x if math.isfinite(x) and x >= 0 else None


class OSMReader:
    """OpenStreetMap XML or PBF: streets and facilities, through the tag mapping of the rule data."""

    name = "osm"
    extensions = (".osm", ".osm.pbf", ".pbf")
    description = "OpenStreetMap (.osm XML, .osm.pbf): streets (highway ways) and facilities (tag mapping)"

    def sniff(self, head: bytes, path: Path) -> bool:
        text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        return text.startswith(b"<?xml") and b"<osm" in head[:1024] or path.name.lower().endswith(".osm.pbf")

    def read(self, path: Path, ctx: ImportContext, only: str | None = None) -> ImportResult:
        """Streets and facilities of an OSM file (``only``: just ``streets`` or ``facilities``)."""
        try:
            import osmium  # noqa: F401 - checked here, used by _scan_osm
        except ModuleNotFoundError:
            raise ImportError_(
                "Reading OpenStreetMap files needs the osmium package: pip install osmium.", file=ctx.filename
            ) from None
        from ..rules.city_services import osm_tags

        mapping = osm_tags()
        rules, st = mapping["facilities"], mapping["streets"]
        name = ctx.filename or path.name
        scan = _scan_osm(path, rules, st, name)
        src = resolve_crs("OGC:CRS84", ctx, what="OpenStreetMap file")
        ll = np.asarray(scan.lonlat, dtype=float).reshape(-1, 2)
        xy = to_city(np.column_stack([ll, np.full(len(ll), np.nan)]), src, ctx.city)[:, :2] if len(ll) else ll
        try:
            out = [f for item in scan.items if (f := _osm_feature(item, xy, rules, st, only)) is not None]
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ImportError_(f"Invalid feature: {err['msg']}.", file=name) from None
        warnings = [f"{scan.skipped} facility relations (multipolygons) were skipped: not read"] if scan.skipped else []
        if scan.broken:
            warnings.append(f"{scan.broken} ways with nodes missing from the file were skipped")
        return ImportResult(
            features=out,
            source_crs="OGC:CRS84",
            warnings=warnings,
            format="osm",
            info={
                "streets": sum(isinstance(o, Street) for o in out),
                "facilities": sum(isinstance(o, Facility) for o in out),
            },
        )


@dataclass
class _OSMScan:
    """What one pass over an OSM file keeps: node positions (lon, lat degrees) and the items that use them."""

    lonlat: list[tuple[float, float]] = field(default_factory=list)
    items: list[tuple[str, str, dict[str, str], int, int]] = field(default_factory=list)  # what, id, tags, start, stop
    skipped: int = 0  # facility relations (multipolygons), not read
    broken: int = 0  # ways with nodes missing from the file


def _scan_osm(path: Path, rules: list[dict[str, Any]], st: dict[str, Any], name: str) -> _OSMScan:
    """The facility nodes, and the street and facility ways, of an OSM file (with their node locations)."""
    import osmium

    scan = _OSMScan()
    lonlat = scan.lonlat
    try:
        for obj in osmium.FileProcessor(str(path)).with_locations():
            if isinstance(obj, osmium.osm.Relation):
                if _facility_kind(dict(obj.tags), rules):
                    scan.skipped += 1
                continue
            if isinstance(obj, osmium.osm.Node):
                tags = dict(obj.tags)
                if _facility_kind(tags, rules) is None:
                    continue
                start = len(lonlat)
                lonlat.append((obj.location.lon, obj.location.lat))
                scan.items.append(("node", f"osm-node-{obj.id}", tags, start, start + 1))
            elif isinstance(obj, osmium.osm.Way):
                tags = dict(obj.tags)
                is_street = tags.get("highway") in st["highway"] and tags.get("area") != "yes"
                if not is_street and _facility_kind(tags, rules) is None:
                    continue
                start = len(lonlat)
                try:
                    lonlat += [(n.location.lon, n.location.lat) for n in obj.nodes]
                except osmium.InvalidLocationError:
                    del lonlat[start:]
                    scan.broken += 1
                    continue
                scan.items.append(("way", f"osm-way-{obj.id}", tags, start, len(lonlat)))
    except RuntimeError as exc:
        raise ImportError_(f"Not a readable OpenStreetMap file: {exc}.", file=name) from None
    return scan


def _osm_feature(
    item: tuple[str, str, dict[str, str], int, int],
    xy: np.ndarray,
    rules: list[dict[str, Any]],
    st: dict[str, Any],
    only: str | None,
) -> Street | Facility | None:
    """One scanned OSM item as a street or a facility (None: neither, or not of ``only``); ``xy`` (n, 2) metres."""
    what, fid, tags, a, b = item
    pts = [tuple(p) for p in xy[a:b]]
    kind = _facility_kind(tags, rules)
    if what == "way" and tags.get("highway") in st["highway"] and only in (None, "streets"):
        hw = tags["highway"]
        walk = hw not in st["not_walkable"] and tags.get("foot") != "no" and tags.get("access") != "no"
        if tags.get("foot") in ("yes", "designated"):
            walk = True
        if len(pts) < 2:
            return None
        return Street(
            id=fid,
            name=tags.get("name"),
            centreline=pts,
            street_class=hw,
            walkable=walk,
            drivable=hw not in st["not_drivable"] and tags.get("motor_vehicle") != "no",
            attributes={k: v for k, v in tags.items() if k not in ("name", "highway")},
        )
    if kind is None or only not in (None, "facilities"):
        return None
    attrs = {k: v for k, v in tags.items() if k != "name"}
    common: dict[str, Any] = {"id": fid, "name": tags.get("name"), "kind": kind, "attributes": attrs}
    common["capacity"] = _num_tag(tags.get("capacity"))
    if what == "node":
        return Facility(position=pts[0], **common)
    if len(pts) >= 4 and pts[0] == pts[-1]:
        return Facility(footprint=[pts], **common)
    if pts:
        return Facility(position=pts[0], **common)
    return None


register(OSMReader(), overwrite=True)
