"""CityGML 2.0 and 3.0 reader for buildings (``bldg:Building`` with its ``BuildingPart``s).

Streaming (``lxml.etree.iterparse``, end events of buildings and members only): each top-level Building is
read into plain lists and arrays and its elements freed (a ``cityObjectMember`` once done, with what came before
it); every BATCH buildings are reprojected (one array per srsName), built and, where the importer asks
(``ImportContext.encode``), encoded for the store (:class:`cim.encoded.Encoded`), so memory follows the batch
and the stored features, not the file.  Rings without a srsName wait for the file's first one.  The axis order
of a northing-first CRS (``--axis-order auto``) is decided on the first batch that uses it.  Errors name the
file, the building and the line.

* Geometry: ``lod0FootPrint`` / ``lod0RoofEdge`` (2.0), ``lodNSolid``, ``lodNMultiSurface`` and the LOD N
  boundary surfaces (2.0 ``bldg:boundedBy``, 3.0 ``core:boundary``: Roof/Wall/GroundSurface ...).  Where a
  LOD has boundary surfaces they are that LOD's geometry (with their semantics); ``lodNSolid`` surfaces
  that only point at them (``xlink:href``) add nothing.  ``gml:posList`` / ``gml:pos`` /
  ``gml:coordinates``, ``srsDimension`` 2 or 3, ``OrientableSurface`` orientation ``-``.
* CRS: the ``srsName`` of a geometry, else the first in the file (root ``gml:Envelope``), else ``--crs``;
  OGC URI / URN, ``EPSG:n``, the compound URN ``urn:ogc:def:crs,crs:EPSG:6.12:25833,crs:EPSG:6.12:5783``
  and the AdV names ``urn:adv:crs:ETRS89_UTM32*DE_DHHN92_NH``.  Coordinates are in the CRS's own axis
  order (EPSG:6697 is latitude, longitude) and reprojected once per CRS, as one array.
* Height: ``measuredHeight`` (2.0) or ``con:height`` (3.0, a measured highest-roof value preferred) above
  the lowest vertex, height source "attribute"; otherwise the geometry (top - bottom).
* Footprint: LOD0 footprint when present, else the ground surfaces, else the projection of the solid.
* Building parts are merged into their building: ``parts`` lists their ids, each surface names its part,
  and the building spans the lowest part ground to the highest part roof.
* Other city objects are skipped with one warning counting them per type.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import CRS
from pyproj.exceptions import CRSError

from ._cityjson_fast import encode_model
from ._surfaces import (
    GROUND,
    ROOF,
    UNKNOWN,
    Component,
    Geom,
    Polys,
    classify,
    clean,
    derive,
    int_in,
    make_building,
    pieces_warning,
    semantic_code,
    summarise_skipped,
    use_from_function,
    zrange,
)
from .base import ImportContext, ImportError_, ImportResult
from .buildings import implausible_warning, plausible_attribute, skip_or_raise
from .registry import register
from .reproject import datum_warning, resolve_crs, to_city

_El = Any  # an lxml.etree element
_GML = ("http://www.opengis.net/gml", "http://www.opengis.net/gml/3.2")
_GML_ID = tuple(f"{{{ns}}}id" for ns in _GML)
_HREF = "{http://www.w3.org/1999/xlink}href"
_LOD_PROP = re.compile(r"^lod([0-4])(Solid|MultiSurface|CompositeSurface|MultiSolid|Geometry|FootPrint|RoofEdge)$")
_LOD_ANY = re.compile(r"^lod\d")
_MEMBERS = ("cityObjectMember", "featureMember", "featureMembers")
BATCH = 250  # top-level buildings per batch: parsed, reprojected, built and encoded together
_COMPOUND = re.compile(r"^urn:ogc:def:crs,crs:EPSG:[\d.]*:(\d+),crs:EPSG:[\d.]*:(\d+)$", re.I)
_ADV_H = {
    "ETRS89_UTM32": 25832,
    "ETRS89_UTM33": 25833,
    "DE_DHDN_3GK2": 31466,
    "DE_DHDN_3GK3": 31467,
    "DE_DHDN_3GK4": 31468,
    "DE_DHDN_3GK5": 31469,
}
_ADV_V = {"DE_DHHN92_NH": 5783, "DE_DHHN2016_NH": 7837}
_SKIP = {
    "appearance",
    "externalReference",
    "address",
    "interiorRoom",
    "outerBuildingInstallation",
    "interiorBuildingInstallation",
    "buildingInstallation",
    "buildingConstructiveElement",
    "buildingRoom",
    "buildingFurniture",
    "relativeToTerrain",
    "relativeToWater",
    "generalizesTo",
    "relatedTo",
    "dynamizer",
    "adeOfAbstractBuilding",
    "boundedBy",
    "boundary",
    "height",
}
_UOM = {
    "m": 1.0,
    "urn:ogc:def:uom:ucum::m": 1.0,
    "#m": 1.0,
    "ft": 0.3048,
    "[ft_i]": 0.3048,
    "#ft": 0.3048,
    "urn:ogc:def:uom:ucum::[ft_i]": 0.3048,
    "[ft_us]": 1200 / 3937,
    "urn:ogc:def:uom:ucum::[ft_us]": 1200 / 3937,
}


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _ns(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def _gml_id(el: _El) -> str | None:
    return el.get(_GML_ID[0]) or el.get(_GML_ID[1])


def crs_from_srs_name(name: str) -> str | CRS:
    """A CRS for the srsName forms pyproj does not read itself; other names are returned as they are."""
    s = name.strip()
    code = None
    m = _COMPOUND.match(s)
    if m:
        code = f"EPSG:{m.group(1)}+{m.group(2)}"
    elif s.lower().startswith("urn:adv:crs:"):
        h, _, v = s[len("urn:adv:crs:") :].partition("*")
        if h in _ADV_H and (not v or v in _ADV_V):
            code = f"EPSG:{_ADV_H[h]}" + (f"+{_ADV_V[v]}" if v else "")
    if code is None:
        return s
    try:
        return CRS.from_user_input(code)
    except CRSError:
        return s


_NUMBER = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?$")


def _number(text: str | None) -> int | float | str | None:
    """A number where the text is one written plainly (codes such as "011" stay text)."""
    if text is None:
        return None
    t = text.strip()
    m = _NUMBER.match(t)
    if not m:
        return t
    if m.group(2) is None and m.group(3) is None:
        return int(t)
    f = float(t)
    return f if np.isfinite(f) else t


def _measure(el: _El) -> float | None:
    try:
        v = float((el.text or "").strip())
    except ValueError:
        return None
    factor = _UOM.get((el.get("uom") or "m").strip().lower(), 1.0)
    return v * factor if np.isfinite(v) else None


def _simple(el: _El) -> Any:
    """An attribute element as a value: its text, or a dict of its children (repeated ones as lists)."""
    kids = list(el)
    if not kids:
        return _number(el.text) if el.text and el.text.strip() else None
    out: dict[str, Any] = {}
    for k in kids:
        key = _local(k.tag)
        val = _simple(k)
        if key in out:
            out[key] = out[key] + [val] if isinstance(out[key], list) else [out[key], val]
        else:
            out[key] = val
    return out


def _generic(el: _El, attrs: dict[str, Any]) -> bool:
    """Read a generic attribute (2.0 ``gen:stringAttribute name=..``, 3.0 ``genericAttribute/gen:StringAttribute``)
    into ``attrs``; False when ``el`` is not one."""
    ln = _local(el.tag)
    if ln == "genericAttribute":  # 3.0
        for a in el:
            _generic3(a, attrs)
        return True
    if "generics" not in _ns(el.tag):
        return False
    name = el.get("name")
    if ln == "genericAttributeSet":
        sub: dict[str, Any] = {}
        for a in el:
            _generic(a, sub)
        attrs[name or "genericAttributeSet"] = sub
        return True
    value = next((v for v in el if _local(v.tag) == "value"), None)
    if name is None or value is None:
        return True
    attrs[name] = _typed(ln, value)
    return True


def _generic3(a: _El, attrs: dict[str, Any]) -> None:
    ln = _local(a.tag)
    name = next((n.text for n in a if _local(n.tag) == "name"), None)
    if name is None:
        return
    if ln == "GenericAttributeSet":
        sub: dict[str, Any] = {}
        for v in a:
            if _local(v.tag) == "value":
                for inner in v:
                    _generic3(inner, sub)
        attrs[name] = sub
        return
    value = next((v for v in a if _local(v.tag) == "value"), None)
    if value is not None:
        attrs[name] = _typed(ln, value)


def _typed(kind: str, value: _El) -> Any:
    text = (value.text or "").strip()
    k = kind.lower()
    try:
        if k.startswith("int"):
            return int(text)
        if k.startswith(("double", "measure")):
            f = float(text)
            return f if np.isfinite(f) else text
    except ValueError:
        pass
    return text


@dataclass
class _RawGeom:
    lod: str
    kind: str
    polys: list[list[int]]  # ring ids per polygon, exterior first
    types: list[int]


@dataclass
class _RawComp:
    id: str
    part: str | None
    geoms: list[_RawGeom] = field(default_factory=list)
    measured: float | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class _RawBuilding:
    id: str
    name: str | None
    attrs: dict[str, Any]
    comps: list[_RawComp]
    line: int | None = None  # where its element starts in the file


class _Parser:
    """Collects buildings with their rings (raw coordinates, per srsName) from one file, a batch at a time:
    ``rings``, ``ring_*`` and ``buildings`` hold the current batch (:meth:`next_batch` empties them); the
    counters are the file's."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.default_srs: str | None = None
        self.default_dim: int | None = None
        self.rings: list[np.ndarray] = []
        self.ring_srs: list[str | None] = []
        self.ring_owner: list[str] = []
        self.ring_line: list[int | None] = []
        self.buildings: list[_RawBuilding] = []
        self.n_buildings = 0  # in the file so far
        self.skipped: Counter[str] = Counter()
        self.unresolved = 0
        self.unsupported = 0

    def next_batch(self) -> None:
        self.rings, self.ring_srs, self.ring_owner, self.ring_line, self.buildings = [], [], [], [], []

    # -- geometry ------------------------------------------------------------------------------
    def collect(
        self,
        el: _El,
        owner: str,
        srs: str | None,
        dim: int | None,
        ids: _IdMap,
        flip: bool = False,
        seen: frozenset = frozenset(),
    ) -> list[list[int]]:
        """Polygons (lists of ring ids) under a geometry property or geometry element."""
        out: list[list[int]] = []
        stack = [(el, srs, dim, flip, seen)]
        while stack:
            e, srs, dim, flip, seen = stack.pop()
            srs = e.get("srsName") or srs
            d = e.get("srsDimension")
            if d is not None:
                dim = self._dim(d, owner, e.sourceline)
            ln = _local(e.tag)
            if ln in ("Polygon", "PolygonPatch", "Triangle", "Rectangle"):
                poly = self._polygon(e, owner, srs, dim, flip)
                if poly:
                    out.append(poly)
                continue
            if ln in ("LineString", "MultiCurve", "Curve", "Point", "MultiPoint", "Envelope"):
                continue
            if ln == "OrientableSurface" and e.get("orientation", "+").strip() == "-":
                flip = not flip
            kids = list(e)
            href = e.get(_HREF)
            if href is not None and not kids:
                target = ids.get(href.lstrip("#"))
                if target is None or href in seen:
                    self.unresolved += 1
                    continue
                stack.append((target, srs, dim, flip, seen | {href}))
                continue
            stack.extend((k, srs, dim, flip, seen) for k in reversed(kids))
        return out

    def _dim(self, text: str, owner: str, line: int | None = None) -> int:
        try:
            d = int(text)
        except ValueError:
            d = 0
        if d not in (2, 3):
            raise ImportError_(
                f"srsDimension {text!r} is not supported (2 or 3).", file=self.file, feature=owner, line=line
            )
        return d

    def _polygon(self, e: _El, owner: str, srs: str | None, dim: int | None, flip: bool) -> list[int]:
        rings: list[int] = []
        for bnd in e:
            ln = _local(bnd.tag)
            if ln not in ("exterior", "interior", "outerBoundaryIs", "innerBoundaryIs"):
                continue
            is_ext = ln in ("exterior", "outerBoundaryIs")
            if is_ext and rings:
                continue
            if not is_ext and not rings:
                return []  # a hole before any exterior
            for ring in bnd:
                if _local(ring.tag) != "LinearRing":
                    self.unsupported += 1
                    continue
                xyz = self._ring(ring, owner, ring.get("srsName") or srs, dim)
                if xyz is None:
                    continue
                if flip:
                    xyz = xyz[::-1]
                self.rings.append(xyz)
                self.ring_srs.append(ring.get("srsName") or srs)
                self.ring_owner.append(owner)
                self.ring_line.append(ring.sourceline)
                rings.append(len(self.rings) - 1)
        return rings

    def _ring(self, ring: _El, owner: str, srs: str | None, dim: int | None) -> np.ndarray | None:
        tokens: list[str] = []
        for c in ring:
            ln = _local(c.tag)
            if ln == "posList":
                d = c.get("srsDimension") or c.get("dimension")
                if d is not None:
                    dim = self._dim(d, owner, c.sourceline)
                tokens = (c.text or "").split()
                break
            if ln == "pos":
                d = c.get("srsDimension")
                if d is not None:
                    dim = self._dim(d, owner, c.sourceline)
                tokens += (c.text or "").split()
            elif ln == "coordinates":
                text = (c.text or "").strip()
                first = text.split()[0] if text else ""
                dim = first.count(",") + 1 if first else dim
                tokens = text.replace(",", " ").split()
                break
        if not tokens:
            return None
        dim = dim or self.default_dim or 3
        if len(tokens) % dim:
            rid = _gml_id(ring)
            raise ImportError_(
                f"A ring{f' ({rid})' if rid else ''} of {owner!r} has {len(tokens)} coordinates, "
                f"not a multiple of its dimension {dim}.",
                file=self.file,
                feature=owner,
                line=ring.sourceline,
                ring=rid,
            )
        try:
            a = np.array(tokens, dtype=np.float64).reshape(-1, dim)
        except ValueError:
            raise ImportError_(
                f"A ring of {owner!r} has coordinates that are not numbers.",
                file=self.file,
                feature=owner,
                line=ring.sourceline,
            ) from None
        if dim == 2:
            a = np.column_stack([a, np.zeros(len(a))])
        if len(a) > 1 and (a[0] == a[-1]).all():
            a = a[:-1]
        if not np.isfinite(a).all():
            raise ImportError_(
                f"A ring of {owner!r} has non-finite coordinates.", file=self.file, feature=owner, line=ring.sourceline
            )
        return a

    # -- buildings -------------------------------------------------------------------------------
    def building(self, el: _El) -> None:
        self.n_buildings += 1
        bid = _gml_id(el) or f"building-{self.n_buildings}"
        ids = _IdMap(el)
        comps: list[_RawComp] = []
        name, attrs = self._object(el, bid, None, comps, ids)
        self.buildings.append(_RawBuilding(bid, name, attrs, comps, el.sourceline))

    def _object(  # noqa: C901 - predates the complexity gate (issue 14); split it when it next changes
        self, el: _El, oid: str, part: str | None, comps: list[_RawComp], ids: _IdMap
    ) -> tuple[str | None, dict[str, Any]]:
        srs, dim = el.get("srsName"), None
        comp = _RawComp(oid, part)
        comps.append(comp)
        name = None
        direct: dict[str, list[_RawGeom]] = {}
        semantic: dict[str, _RawGeom] = {}
        heights: list[tuple[int, float]] = []
        attrs = comp.attrs
        parts: list[_El] = []
        for child in el:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            ln, ns = _local(tag), _ns(tag)
            if ns in _GML:
                if ln == "name" and child.text and name is None:
                    name = child.text.strip()
                elif ln == "description" and child.text:
                    attrs["description"] = child.text.strip()
                continue
            m = _LOD_PROP.match(ln)
            if m:
                lod, what = m.group(1), m.group(2)
                polys = self.collect(child, oid, srs, dim, ids)
                if polys:
                    code = GROUND if what == "FootPrint" else ROOF if what == "RoofEdge" else UNKNOWN
                    kind = {"Solid": "Solid", "MultiSolid": "MultiSolid", "CompositeSurface": "CompositeSurface"}.get(
                        what, "MultiSurface"
                    )
                    direct.setdefault(lod, []).append(_RawGeom(lod, kind, polys, [code] * len(polys)))
                continue
            if ln in ("boundedBy", "boundary"):
                for surf in child:
                    self._boundary(surf, oid, srs, dim, ids, semantic)
                continue
            if ln in ("consistsOfBuildingPart", "buildingPart"):
                parts += [p for p in child if _local(p.tag) == "BuildingPart"]
                continue
            if ln == "measuredHeight":
                h = _measure(child)
                if h is not None:
                    attrs["measuredHeight"] = h
                    heights.append((0, h))
                continue
            if ln == "height":  # CityGML 3.0 con:height/con:Height
                for hel in child:
                    self._height3(hel, heights, attrs)
                continue
            if _generic(child, attrs) or ln in _SKIP or _LOD_ANY.match(ln):
                continue
            val = _simple(child)
            if val is None:
                continue
            if ln in attrs:
                attrs[ln] = attrs[ln] + [val] if isinstance(attrs[ln], list) else [attrs[ln], val]
            else:
                attrs[ln] = val
        for lod in sorted(set(direct) | set(semantic)):
            if lod in semantic:  # the boundary surfaces are this LOD; a LOD0 footprint or roof edge comes too
                comp.geoms.append(semantic[lod])
                comp.geoms += direct.get(lod, []) if lod == "0" else []
            else:
                comp.geoms += direct[lod]
        if part is not None and name:
            attrs.setdefault("name", name)
        if heights:
            comp.measured = sorted(heights)[0][1]
            attrs.setdefault("measuredHeight", comp.measured)
        for p in parts:
            pid = _gml_id(p) or f"{oid}-part-{len(comps)}"
            self._object(p, pid, pid, comps, ids)
        return name, attrs

    def _boundary(
        self, surf: _El, oid: str, srs: str | None, dim: int | None, ids: _IdMap, semantic: dict[str, _RawGeom]
    ) -> None:
        if not isinstance(surf.tag, str) or _local(surf.tag) == "Envelope":
            return
        code = semantic_code(_local(surf.tag))
        for g in surf:
            if not isinstance(g.tag, str):
                continue
            m = _LOD_PROP.match(_local(g.tag))
            if not m:
                continue
            polys = self.collect(g, oid, surf.get("srsName") or srs, dim, ids)
            if polys:
                rg = semantic.setdefault(m.group(1), _RawGeom(m.group(1), "MultiSurface", [], []))
                rg.polys += polys
                rg.types += [code] * len(polys)

    @staticmethod
    def _height3(hel: _El, heights: list[tuple[int, float]], attrs: dict[str, Any]) -> None:
        info = {_local(k.tag): k for k in hel}
        if "value" not in info:
            return
        h = _measure(info["value"])
        if h is None:
            return
        high = (info["highReference"].text or "") if "highReference" in info else ""
        status = (info["status"].text or "") if "status" in info else ""
        rank = (0 if status.strip() == "measured" else 2) + (0 if "highest" in high else 1)
        heights.append((rank, h))
        attrs.setdefault("height", []).append(
            {k: (_measure(v) if k == "value" else (v.text or "").strip()) for k, v in info.items()}
        )


class _IdMap:
    """gml:id -> element within one building, built on the first xlink lookup."""

    def __init__(self, root: _El) -> None:
        self.root = root
        self.map: dict[str, _El] | None = None

    def get(self, gid: str) -> _El | None:
        if self.map is None:
            self.map = {}
            for e in self.root.iter():
                i = _gml_id(e)
                if i is not None:
                    self.map[i] = e
        return self.map.get(gid)


class _Batches:
    """What the batches of one file add up to: the features, and what the warnings count."""

    def __init__(self) -> None:
        self.features: list[Any] = []
        self.notes: list[str] = []  # warnings about single buildings, in file order
        self.datum: list[str] = []  # height-datum warnings, one per CRS, in the order the CRSs appear
        self.crs: dict[str | None, Any] = {}  # srsName (None: the file's) -> CRS, in the order they appear
        self.pieces: list[tuple[str, int, float]] = []
        self.empty: list[str] = []
        self.dropped = 0


class CityGMLReader:
    """CityGML 2.0 and 3.0 buildings (LOD1/LOD2) and tunnels."""

    name = "citygml"
    extensions = (".gml", ".citygml", ".xml")
    description = "CityGML 2.0 / 3.0 buildings (LOD0 footprints, LOD1 solids, LOD2 boundary surfaces)"

    def sniff(self, head: bytes, path: Path) -> bool:
        return b"http://www.opengis.net/citygml" in head and b"CityModel" in head

    def read(self, path: Path, ctx: ImportContext) -> ImportResult:
        file = ctx.filename or path.name
        p = _Parser(file)
        acc = _Batches()
        self._parse(path, p, ctx, lambda: self._batch(p, ctx, acc))
        self._batch(p, ctx, acc)
        if acc.crs:  # the CRS of the last srsName to appear, as when the file was reprojected at once
            ctx.resolved_crs = list(acc.crs.values())[-1]
        warnings = acc.datum + acc.notes
        if acc.empty:
            warnings.append(
                f"{len(acc.empty)} buildings without geometry were skipped: {', '.join(acc.empty[:10])}"
                + (" ..." if len(acc.empty) > 10 else "")
            )
        if acc.dropped:
            warnings.append(f"{acc.dropped} degenerate polygons (fewer than 3 vertices or no area) were dropped")
        if p.unresolved:
            warnings.append(f"{p.unresolved} xlink references to geometry outside their building were ignored")
        if p.unsupported:
            warnings.append(f"{p.unsupported} rings that are not gml:LinearRing (curves) were ignored")
        if (w := pieces_warning(acc.pieces)) is not None:
            warnings.append(w)
        if (w := summarise_skipped(dict(p.skipped))) is not None:
            warnings.append(w)
        if not p.n_buildings:
            warnings.append("the file holds no buildings")
        ctx.report(1.0)
        return ImportResult(
            features=acc.features, source_crs=p.default_srs or ctx.crs, warnings=warnings, format=self.name
        )

    def _batch(self, p: _Parser, ctx: ImportContext, acc: _Batches) -> None:
        """The parser's current batch of buildings into ``acc`` (encoded for the store where ``ctx.encode``);
        empties the batch."""
        if not p.buildings:
            return
        xyz_rings = self._reproject(p, ctx, acc)
        for rb in p.buildings:
            try:
                b = self._building(rb, xyz_rings, p.file, ctx, acc)
            except ImportError_ as exc:
                exc.where.setdefault("line", rb.line)
                raise
            if b is not None:
                acc.features.append(encode_model(b) if ctx.encode else b)
        p.next_batch()

    def _building(  # noqa: C901 - the per-building body of the reader before batches, as it was
        self, rb: _RawBuilding, xyz_rings: list[np.ndarray], file: str, ctx: ImportContext, acc: _Batches
    ) -> Any:
        """One building as a model (None where it is skipped)."""
        comps: list[Component] = []
        for rc in rb.comps:
            comp = Component(id=rc.id, part=rc.part, measured_height=rc.measured)
            for g in rc.geoms:
                polys, n_drop = clean(self._polys(g, xyz_rings))
                acc.dropped += n_drop
                if polys.n == 0:
                    raise ImportError_(
                        f"The LOD {g.lod} geometry of {rc.id!r} has no valid surface.",
                        file=file,
                        feature=rc.id,
                        lod=g.lod,
                    )
                comp.geoms.append(Geom(g.lod, g.kind, classify(polys), rc.part))
            if comp.measured_height is not None and comp.geoms:
                lo, hi = zrange(comp)
                if plausible_attribute(comp.measured_height, hi - lo) is None:
                    acc.notes.append(implausible_warning("measuredHeight", comp.measured_height, rc.id, "geometry"))
                    comp.measured_height = None
            comps.append(comp)
        if not any(c.geoms for c in comps):
            acc.empty.append(rb.id)
            return None
        try:
            d = derive(rb.id, comps, file=file)
        except ImportError_ as exc:
            skip_or_raise(ctx, exc)
            return None
        if d.pieces > 1:
            acc.pieces.append((rb.id, d.pieces, d.lost_area))
        part_comps = rb.comps[1:]
        attrs = dict(rb.attrs)
        part_attrs = {c.id: c.attrs for c in part_comps if c.attrs}
        if part_attrs:
            attrs["part_attributes"] = part_attrs
        all_attrs = [rb.attrs] + [c.attrs for c in part_comps]
        own = int_in(rb.attrs.get("storeysAboveGround"), 0, 250)
        floors = [v for v in (int_in(c.attrs.get("storeysAboveGround"), 0, 250) for c in part_comps) if v is not None]
        below = [v for v in (int_in(a.get("storeysBelowGround"), 0, 20) for a in all_attrs) if v is not None]
        years = [v for v in (_year(a) for a in all_attrs) if v is not None]
        name = rb.name or next((c.attrs["name"] for c in part_comps if isinstance(c.attrs.get("name"), str)), None)
        try:
            return make_building(
                rb.id,
                d,
                file=file,
                attributes=attrs,
                name=name,
                parts=[c.id for c in part_comps],
                floors_above=own if own is not None else (max(floors) if floors else None),
                floors_below=max(below) if below else None,
                year_built=years[0] if years else None,
                use=use_from_function(rb.attrs.get("function")),
                ctx=ctx,
            )
        except ImportError_ as exc:
            skip_or_raise(ctx, exc)
            return None

    @staticmethod
    def _parse(path: Path, p: _Parser, ctx: ImportContext, flush: Callable[[], None]) -> None:  # noqa: C901
        """Stream the file (lxml ``iterparse``, end events of buildings and members only), handing each
        top-level Building to ``p`` and calling ``flush`` every BATCH buildings; done elements are freed."""
        from lxml import etree

        try:
            size = max(path.stat().st_size, 1)
            fh = open(path, "rb")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise ImportError_(f"Cannot read the file: {exc.strerror}.", file=p.file) from None
        with fh:
            if not fh.read(65536).strip():
                raise ImportError_("The file is empty.", file=p.file)
            fh.seek(0)
            root = cursor = None  # cursor: the last event's element, where the search for a srsName stopped
            events = etree.iterparse(
                fh,
                events=("end",),
                tag=["{*}Building", *(f"{{*}}{m}" for m in _MEMBERS)],
                remove_comments=True,
                remove_pis=True,
                resolve_entities="internal",  # as xml.etree did; never external ones
                no_network=True,
            )
            try:
                for _, el in events:
                    if root is None:
                        root = el.getroottree().getroot()
                    if p.default_srs is None:  # the first srsName in the file up to here (document order)
                        _first_srs(p, root, el, cursor)
                    ln = _local(el.tag)
                    parent = el.getparent()
                    if ln == "Building":
                        up, nested = parent, False
                        while up is not None:
                            if _local(up.tag) in ("Building", "BuildingPart"):
                                nested = True
                                break
                            up = up.getparent()
                        if not nested:
                            p.building(el)
                            el.clear()  # its tag stays (the member counts its children by name)
                            if len(p.buildings) >= BATCH and (p.default_srs is not None or None not in p.ring_srs):
                                flush()  # rings without srsName wait for the file's first one
                                ctx.report(0.95 * fh.tell() / size)
                        cursor = el
                        continue
                    for k in el:  # a member: what it holds other than buildings is skipped, counted by type
                        kn = _local(k.tag)
                        if kn != "Building":
                            p.skipped[kn] += 1
                    if parent is not None and parent.getparent() is None:  # a top-level member: done, freed
                        el.clear()
                        while el.getprevious() is not None:
                            del parent[0]
                    cursor = el
                if root is not None and p.default_srs is None:
                    _first_srs(p, root, None, cursor)
            except etree.XMLSyntaxError as exc:
                line, col = exc.position
                raise ImportError_(f"Invalid XML: {exc.msg}.", file=p.file, line=line, column=col) from None

    @staticmethod
    def _reproject(p: _Parser, ctx: ImportContext, acc: _Batches) -> list[np.ndarray]:
        """Every ring of the batch in city coordinates, one transformation per srsName."""
        out: list[np.ndarray] = [np.zeros((0, 3))] * len(p.rings)
        groups: dict[str | None, list[int]] = {}
        for k, s in enumerate(p.ring_srs):
            groups.setdefault(s or p.default_srs, []).append(k)
        for srs, ks in groups.items():
            crs = acc.crs.get(srs)
            if crs is None:
                crs = acc.crs[srs] = resolve_crs(crs_from_srs_name(srs) if srs else None, ctx)
                if (w := datum_warning(crs, ctx.city)) is not None and w not in acc.datum:
                    acc.datum.append(w)
            raw = np.concatenate([p.rings[k] for k in ks])
            xyz = to_city(raw, crs, ctx.city, authority_order=True, ctx=ctx)
            bad = ~np.isfinite(xyz).all(axis=1)
            lens = np.fromiter((len(p.rings[k]) for k in ks), dtype=np.int64, count=len(ks))
            if bad.any():
                ring = int(np.searchsorted(np.cumsum(lens), int(np.argmax(bad)), side="right"))
                owner = p.ring_owner[ks[ring]]
                raise ImportError_(
                    f"Coordinates of {owner!r} cannot be transformed from {srs} into the city CRS "
                    "(outside its area of use?).",
                    file=p.file,
                    feature=owner,
                    line=p.ring_line[ks[ring]],
                )
            for k, piece in zip(ks, np.split(xyz, np.cumsum(lens)[:-1]), strict=True):
                out[k] = piece
        return out

    @staticmethod
    def _polys(g: _RawGeom, rings: list[np.ndarray]) -> Polys:
        ids = [r for poly in g.polys for r in poly]
        xyz = np.concatenate([rings[r] for r in ids]) if ids else np.zeros((0, 3))
        ring_len = np.fromiter((len(rings[r]) for r in ids), dtype=np.int64, count=len(ids))
        nrings = np.fromiter((len(poly) for poly in g.polys), dtype=np.int64, count=len(g.polys))
        return Polys.from_lengths(xyz, ring_len, nrings, np.asarray(g.types, dtype=np.int8))


def _first_srs(p: _Parser, root: _El, upto: _El | None, cursor: _El | None) -> None:
    """Set ``p.default_srs`` (and ``default_dim``) from the first element with a srsName, in document order,
    among those the parser has started since the last search: after ``cursor``'s subtree (None: from the root)
    up to the end of ``upto``'s subtree (None: to the end)."""
    stop = upto
    while stop is not None and len(stop):
        stop = stop[-1]
    for e in root.iter() if cursor is None else _after(cursor):
        s = e.get("srsName")
        if s:
            p.default_srs = s
            d = e.get("srsDimension")
            p.default_dim = int(d) if d in ("2", "3") else None
            return
        if e is stop:
            return


def _after(el: _El) -> Iterator[_El]:
    """The elements after ``el`` and its subtree, in document order."""
    while el is not None:
        for s in el.itersiblings():
            yield from s.iter()
        el = el.getparent()


def _year(attrs: dict[str, Any]) -> int | None:
    y = int_in(attrs.get("yearOfConstruction"), 1000, 2100)
    if y is None and isinstance(attrs.get("dateOfConstruction"), str):  # 3.0: a date
        y = int_in(attrs["dateOfConstruction"][:4], 1000, 2100)
    return y


register(CityGMLReader())
