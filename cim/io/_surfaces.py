"""Polygon sets in 3-D and the building (or tunnel) derived from them; shared by the CityJSON and CityGML readers.

A :class:`Polys` holds many planar polygons in one coordinate array: ``xyz`` (n, 3) float, metres in the
city CRS, the vertices of every ring one after the other (rings are not closed); ``ring_off`` (R + 1,)
offsets of the rings in ``xyz``; ``poly_off`` (P + 1,) offsets of the polygons in the rings (exterior ring
first, then holes); ``types`` (P,) int8 semantic codes (:data:`ROOF`, :data:`WALL`, :data:`GROUND`,
:data:`OTHER`, or :data:`UNKNOWN` for "classify by the normal").  Every computation on it is vectorised
over all the vertices; Python loops run per object or per polygon only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from pydantic import ValidationError

from ..model import Building, BuildingUse, LodGeometry, StructureKind, Surface, SurfaceType, UndergroundStructure
from ..typed import FloatArray, IntArray
from .base import ImportError_

UNKNOWN, OTHER, ROOF, WALL, GROUND = -1, 0, 1, 2, 3
_SURFACE_TYPE = {ROOF: SurfaceType.roof, WALL: SurfaceType.wall, GROUND: SurfaceType.ground}
_SEMANTIC_CODES = {"RoofSurface": ROOF, "WallSurface": WALL, "GroundSurface": GROUND}

MIN_AREA = 1e-6  # m²: a polygon smaller than this is degenerate and dropped
_HORIZONTAL = 0.98  # |n_z| of a unit normal above this: horizontal (within ~11°)
_VERTICAL = 0.17  # |n_z| below this: vertical (within ~10°)
_MIN_HOLE = 1e-2  # m²: holes and pieces smaller than this in a union are numerical gaps, not courtyards


def semantic_code(name: str | None) -> int:
    """The code of a CityJSON / CityGML semantic surface name (``RoofSurface`` ...); OTHER for the rest."""
    return _SEMANTIC_CODES.get(name or "", OTHER)


@dataclass
class Polys:
    xyz: FloatArray
    ring_off: IntArray
    poly_off: IntArray
    types: np.ndarray
    _normals: FloatArray | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return len(self.poly_off) - 1

    @classmethod
    def empty(cls) -> Polys:
        return cls(np.zeros((0, 3)), np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(0, np.int8))

    @classmethod
    def from_lengths(cls, xyz: FloatArray, ring_len: IntArray, poly_nrings: IntArray, types: np.ndarray) -> Polys:
        """From ring lengths (R,) and rings per polygon (P,)."""
        ring_off = np.zeros(len(ring_len) + 1, np.int64)
        np.cumsum(ring_len, out=ring_off[1:])
        poly_off = np.zeros(len(poly_nrings) + 1, np.int64)
        np.cumsum(poly_nrings, out=poly_off[1:])
        return cls(np.asarray(xyz, dtype=float), ring_off, poly_off, np.asarray(types, dtype=np.int8))

    @staticmethod
    def concat(items: list[Polys]) -> Polys:
        items = [p for p in items if p.n]
        if not items:
            return Polys.empty()
        if len(items) == 1:
            return items[0]
        xyz = np.concatenate([p.xyz for p in items])
        ring_len = np.concatenate([np.diff(p.ring_off) for p in items])
        nrings = np.concatenate([np.diff(p.poly_off) for p in items])
        return Polys.from_lengths(xyz, ring_len, nrings, np.concatenate([p.types for p in items]))

    def select(self, keep: np.ndarray) -> Polys:
        """The polygons where ``keep`` (P,) bool is true."""
        if keep.all():
            return self
        nr = np.diff(self.poly_off)
        ring_keep = np.repeat(keep, nr)
        rl = np.diff(self.ring_off)
        vert_keep = np.repeat(ring_keep, rl)
        q = Polys.from_lengths(self.xyz[vert_keep], rl[ring_keep], nr[keep], self.types[keep])
        if self._normals is not None:
            q._normals = self._normals[keep]
        return q

    def exterior_normals(self) -> FloatArray:
        """(P, 3) Newell normal of each exterior ring: direction by the right-hand rule, length twice the area
        (computed once)."""
        if self._normals is None:
            first = self.poly_off[:-1]
            self._normals = _newell(self.xyz, self.ring_off[first], self.ring_off[first + 1])
        return self._normals

    def zrange(self) -> tuple[float, float]:
        z = self.xyz[:, 2]
        return float(z.min()), float(z.max())


def _newell(xyz: FloatArray, starts: IntArray, ends: IntArray) -> FloatArray:
    lens = ends - starts
    out = np.zeros((len(lens), 3))
    ok = lens >= 3
    if not ok.any():
        return out
    s, ln = starts[ok], lens[ok]
    seg = np.zeros(len(ln) + 1, np.int64)
    np.cumsum(ln, out=seg[1:])
    local = np.arange(seg[-1]) - np.repeat(seg[:-1], ln)
    base = np.repeat(s, ln)
    cur = xyz[base + local] - xyz[base]  # centred on the ring's first vertex: no loss of precision
    nxt = xyz[base + (local + 1) % np.repeat(ln, ln)] - xyz[base]
    cross = np.empty_like(cur)  # cur x nxt, without np.cross's overhead
    cross[:, 0] = cur[:, 1] * nxt[:, 2] - cur[:, 2] * nxt[:, 1]
    cross[:, 1] = cur[:, 2] * nxt[:, 0] - cur[:, 0] * nxt[:, 2]
    cross[:, 2] = cur[:, 0] * nxt[:, 1] - cur[:, 1] * nxt[:, 0]
    out[ok] = np.add.reduceat(cross, seg[:-1], axis=0)
    return out


def clean(p: Polys) -> tuple[Polys, int]:
    """Drop holes with fewer than 3 vertices and polygons whose exterior is degenerate; returns (polys, dropped)."""
    if p.n == 0:
        return p, 0
    rl = np.diff(p.ring_off)
    nr = np.diff(p.poly_off)
    normals = p.exterior_normals()
    good = np.linalg.norm(normals, axis=1) / 2 > MIN_AREA
    ring_ok = rl >= 3
    if not good.all() or not ring_ok.all():
        ring_keep = np.repeat(good, nr) & ring_ok
        vert_keep = np.repeat(ring_keep, rl)
        nr_new = np.add.reduceat(ring_keep.astype(np.int64), p.poly_off[:-1]) if len(rl) else nr
        q = Polys.from_lengths(p.xyz[vert_keep], rl[ring_keep], nr_new[good], p.types[good])
        q._normals = normals[good]
        return q, int((~good).sum())
    return p, 0


def classify(p: Polys) -> Polys:
    """Fill UNKNOWN types from the exterior normal: horizontal facing down = ground, facing up (not vertical)
    = roof, else wall."""
    unknown = p.types == UNKNOWN
    if not unknown.any():
        return p
    n = p.exterior_normals()[unknown]
    nz = n[:, 2] / np.maximum(np.linalg.norm(n, axis=1), 1e-300)
    codes = np.where(nz < -_HORIZONTAL, GROUND, np.where(nz > _VERTICAL, ROOF, WALL)).astype(np.int8)
    types = p.types.copy()
    types[unknown] = codes
    return Polys(p.xyz, p.ring_off, p.poly_off, types, p._normals)


def to_surfaces(p: Polys, part: str | None = None) -> list[Surface]:
    """One :class:`Surface` per polygon (coordinates rounded to 0.1 mm)."""
    coords = list(map(tuple, np.round(p.xyz, 4).tolist()))
    ro, po = p.ring_off.tolist(), p.poly_off.tolist()
    types = p.types.tolist()
    out = []
    for k in range(p.n):
        rings = [coords[ro[r] : ro[r + 1]] for r in range(po[k], po[k + 1])]
        out.append(Surface.model_construct(type=_SURFACE_TYPE.get(types[k]), rings=rings, part=part))
    return out


def shapes2d(p: Polys, keep: np.ndarray | None = None) -> np.ndarray:
    """The polygons projected on the plane, as a shapely array (only where ``keep``, and never vertical ones);
    invalid projections are made valid."""
    if keep is None:
        keep = np.ones(p.n, bool)
    n = p.exterior_normals()
    area = np.abs(n[:, 2]) / 2
    keep = keep & (area > MIN_AREA) & (np.abs(n[:, 2]) > _VERTICAL * np.linalg.norm(n, axis=1))
    if not keep.any():
        return np.empty(0, dtype=object)
    q = p.select(keep)
    rl = np.diff(q.ring_off)
    ok_ring = rl >= 3
    ring_ids = np.repeat(np.arange(len(rl)), rl)
    rings = shapely.linearrings(q.xyz[:, :2], indices=ring_ids)
    poly_ids = np.repeat(np.arange(q.n), np.diff(q.poly_off))
    polys = shapely.polygons(rings[ok_ring], indices=poly_ids[ok_ring])
    bad = ~shapely.is_valid(polys)
    if bad.any():
        polys[bad] = shapely.make_valid(polys[bad], method="structure", keep_collapsed=False)
    return polys


def union_footprint(shapes: np.ndarray) -> tuple[list[list[tuple[float, float]]], int, float]:
    """Exterior and holes of the largest polygon of the union of ``shapes``; returns (rings, pieces, lost area).

    Holes and pieces under 0.01 m² (numerical gaps between triangles) are dropped silently; ``pieces``
    counts the larger pieces and ``lost`` is the area of those left out.
    """
    if len(shapes) == 0:
        return [], 0, 0.0
    u = shapely.union_all(shapes) if len(shapes) > 1 else shapes[0]
    parts = [g for g in shapely.get_parts(u) if isinstance(g, shapely.Polygon) and not g.is_empty]
    if not parts:
        return [], 0, 0.0
    areas = np.array([g.area for g in parts])
    big = parts[int(np.argmax(areas))]
    pieces = int((areas >= _MIN_HOLE).sum())
    lost = float(areas.sum() - areas.max())
    big = shapely.simplify(big, 1e-4, preserve_topology=True)
    shell = shapely.get_exterior_ring(big)
    holes = [h for h in big.interiors if shapely.Polygon(h).area >= _MIN_HOLE]
    poly = shapely.orient_polygons(shapely.Polygon(shell, holes))  # exterior counter-clockwise
    rings = [np.round(np.asarray(poly.exterior.coords)[:-1], 4).tolist()]
    rings += [np.round(np.asarray(r.coords)[:-1], 4).tolist() for r in poly.interiors]
    return [[(x, y) for x, y in r] for r in rings], pieces, lost


# -- from geometries to a feature ----------------------------------------------------------------


@dataclass
class Geom:
    """One LOD geometry of one object (a building or a part), in city coordinates, already cleaned."""

    lod: str
    kind: str
    polys: Polys
    part: str | None = None


@dataclass
class Component:
    """A building, or one of its parts, with its geometries and its measured height (if any)."""

    id: str
    part: str | None
    geoms: list[Geom] = field(default_factory=list)
    measured_height: float | None = None


def _lodf(lod: str) -> float:
    try:
        return float(lod)
    except ValueError:
        return 0.0


def _footprint_shapes(c: Component) -> np.ndarray:
    """LOD0 footprint if any; else the ground surfaces of the highest LOD that has some; else the
    projection of the highest LOD."""
    lod0 = [g for g in c.geoms if _lodf(g.lod) < 1 and (g.polys.types == GROUND).any()]
    if lod0:
        return np.concatenate([shapes2d(g.polys, g.polys.types == GROUND) for g in lod0])
    ranked = sorted(c.geoms, key=lambda g: _lodf(g.lod), reverse=True)
    for g in ranked:
        if (g.polys.types == GROUND).any():
            s = shapes2d(g.polys, g.polys.types == GROUND)
            if len(s):
                return s
    return shapes2d(ranked[0].polys) if ranked else np.empty(0, dtype=object)


def zrange(c: Component) -> tuple[float, float]:
    """(lowest, highest) z of a component's geometry (LOD 1 and above where there is any), metres."""
    return _zrange(c)


def _zrange(c: Component) -> tuple[float, float]:
    geoms = [g for g in c.geoms if _lodf(g.lod) >= 1] or c.geoms
    lo = min(g.polys.zrange()[0] for g in geoms)
    hi = max(g.polys.zrange()[1] for g in geoms)
    return lo, hi


@dataclass
class Derived:
    footprint: list[list[tuple[float, float]]]
    pieces: int
    lost_area: float
    ground: float
    roof: float
    height_source: str
    surfaces: list[Surface]
    lods: list[LodGeometry]
    best_lod: float


def derive(fid: str, comps: list[Component], *, file: str, what: str = "building") -> Derived:
    """Footprint, ground / roof elevation, display surfaces and LOD geometries of one object and its parts.

    Ground = the lowest vertex; roof = the highest vertex, or ground + measured height where a component has
    one (then the height source is "attribute").  Raises ImportError_ naming the object when it has no
    usable geometry.
    """
    comps = [c for c in comps if c.geoms]
    if not comps:
        raise ImportError_(f"The {what} {fid!r} has no geometry.", file=file, feature=fid)
    shapes = np.concatenate([_footprint_shapes(c) for c in comps])
    rings, pieces, lost = union_footprint(shapes)
    if not rings:
        raise ImportError_(
            f"The {what} {fid!r} has no surface that projects to a footprint (all vertical or degenerate).",
            file=file,
            feature=fid,
        )
    grounds, roofs, measured = [], [], []
    for c in comps:
        lo, hi = _zrange(c)
        lo = round(lo, 4)
        grounds.append(lo)
        if c.measured_height is not None and c.measured_height > 0:
            roofs.append(lo + c.measured_height)
            measured.append(True)
        else:
            roofs.append(round(hi, 4))
            measured.append(False)
    surfaces: list[Surface] = []
    lods: list[LodGeometry] = []
    best = 0.0
    for c in comps:
        by_lod = {}  # type: ignore[var-annotated]
        for g in c.geoms:
            s = to_surfaces(g.polys, c.part)
            lods.append(LodGeometry.model_construct(lod=g.lod, kind=g.kind, surfaces=s, part=c.part))  # type: ignore[arg-type]
            by_lod.setdefault(g.lod, []).extend(s)
        top = max(by_lod, key=_lodf)
        best = max(best, _lodf(top))
        surfaces += by_lod[top]
    return Derived(
        rings,
        pieces,
        lost,
        min(grounds),
        max(roofs),
        "attribute" if all(measured) else "geometry",
        surfaces,
        lods,
        best,
    )


def _checked(cls, fid: str, file: str, **fields: Any):
    try:
        return cls(**fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise ImportError_(f"The feature {fid!r} is invalid: {loc}: {err['msg']}.", file=file, feature=fid) from None


def make_building(fid: str, d: Derived, **kw: Any) -> Building:
    """A validated Building from :func:`building_fields` (same keywords; ``file`` required).  A height that is
    not positive falls back on floors x storey height, then on ``ctx.default_height``
    (:mod:`cim.io.buildings`); without either it raises ImportError_ naming the object."""
    return _checked(Building, fid, kw["file"], **building_fields(fid, d, **kw))


def building_fields(
    fid: str,
    d: Derived,
    *,
    file: str,
    attributes: dict[str, Any],
    name: str | None = None,
    parts: list[str] | None = None,
    height: float | None = None,
    height_source: str | None = None,
    floors_above: int | None = None,
    floors_below: int | None = None,
    year_built: int | None = None,
    use: BuildingUse | None = None,
    ctx: Any = None,
) -> dict[str, Any]:
    """The fields of :func:`make_building`'s Building, not yet validated (raises ImportError_ as it does)."""
    h = d.roof - d.ground if height is None else height
    if not np.isfinite(h) or h <= 0:
        from .buildings import fallback_height

        have = f"no positive height (ground {d.ground:.3f} m, top {d.roof:.3f} m: flat or inverted)"
        height, height_source = fallback_height(fid, floors_above, ctx, file=file, have=have)
        h = height
    fields: dict[str, Any] = dict(
        id=fid,
        name=name,
        attributes=attributes,
        footprint=d.footprint,
        ground_elevation=d.ground,
        height=round(float(h), 6),
        roof_elevation=d.ground + h if height is not None else d.roof,
        floors_above=floors_above,
        floors_below=floors_below or 0,
        year_built=year_built,
        cim_level=4 if d.best_lod >= 2 else 3,
        surfaces=d.surfaces,
        lods=d.lods,
        parts=parts or None,
        height_source=height_source or d.height_source,
    )
    fields["use"] = use if use is not None else BuildingUse.unknown  # no stated use stays unknown
    return fields


def make_structure(
    fid: str,
    d: Derived,
    *,
    file: str,
    attributes: dict[str, Any],
    name: str | None = None,
    kind: StructureKind = StructureKind.tunnel,
) -> UndergroundStructure:
    if not d.roof > d.ground:
        raise ImportError_(
            f"The {kind.value} {fid!r} has no positive height (bottom {d.ground:.3f} m, top {d.roof:.3f} m).",
            file=file,
            feature=fid,
        )
    return _checked(
        UndergroundStructure,
        fid,
        file,
        id=fid,
        name=name,
        attributes=attributes,
        kind=kind,
        footprint=d.footprint,
        top_elevation=d.roof,
        bottom_elevation=d.ground,
    )


def int_in(value: Any, lo: int, hi: int) -> int | None:
    """``value`` as an int when it is an integer (or an integer string) within [lo, hi], else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        s = value.strip()
        if not s.lstrip("-").isdigit():
            return None
        value = int(s)
    if isinstance(value, int) and lo <= value <= hi:
        return value
    return None


_USE_WORDS = {
    "residential": BuildingUse.residential,
    "housing": BuildingUse.residential,
    "dwelling": BuildingUse.residential,
    "house": BuildingUse.residential,
    "apartments": BuildingUse.residential,
    "wohngebäude": BuildingUse.residential,
    "wonen": BuildingUse.residential,
    "woonfunctie": BuildingUse.residential,
    "commercial": BuildingUse.commercial,
    "office": BuildingUse.commercial,
    "retail": BuildingUse.commercial,
    "winkelfunctie": BuildingUse.commercial,
    "kantoorfunctie": BuildingUse.commercial,
    "industrial": BuildingUse.industrial,
    "industry": BuildingUse.industrial,
    "industriefunctie": BuildingUse.industrial,
    "public": BuildingUse.public,
    "mixed": BuildingUse.mixed,
    "mixed use": BuildingUse.mixed,
}


def use_from_function(value: Any) -> BuildingUse | None:
    """A BuildingUse for an unambiguous textual function ("residential", "office", ...); None otherwise
    (numeric codes need their code list, which files rarely ship)."""
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if not isinstance(value, str):
        return None
    return _USE_WORDS.get(value.strip().lower())


def summarise_skipped(counts: dict[str, int], what: str = "city objects") -> str | None:
    if not counts:
        return None
    total = sum(counts.values())
    detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return f"skipped {total} {what} of types not imported: {detail}"


def pieces_warning(ids: list[tuple[str, int, float]]) -> str | None:
    if not ids:
        return None
    shown = ", ".join(f"{i} ({n} pieces, {a:.1f} m² left out)" for i, n, a in ids[:10])
    more = f" and {len(ids) - 10} more" if len(ids) > 10 else ""
    return f"{len(ids)} footprints fall apart in several pieces; the largest piece of each was kept: {shown}{more}"
