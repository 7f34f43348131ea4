"""IFC 2x3 / 4 / 4x3 reader (ifcopenshell): BIM buildings with their storeys, elements and triangles.

* **Geometry** comes from IfcOpenShell's geometry iterator (world coordinates, metres, openings cut):
  one triangle mesh per element.  Every triangle is placed in the city CRS and kept as a building
  :class:`~cim.model.Surface` (``part`` = the element's GlobalId), so the building's mesh in 3D Tiles is
  the IFC geometry, not an extrusion.
* **Placement**, in order: ``--origin`` (with ``--crs``) when given; else ``IfcMapConversion`` with its
  ``IfcProjectedCRS`` (IFC4+: E = Eastings + Scale·(x·cosθ − y·sinθ), N = Northings + Scale·(x·sinθ +
  y·cosθ), H = OrthogonalHeight + Scale·z in project units, θ from XAxisAbscissa/XAxisOrdinate; a missing
  Scale is taken as the ratio of project to map units); else ``IfcSite`` RefLatitude / RefLongitude /
  RefElevation at the site's origin, turned by the model context's TrueNorth, with the projection's
  convergence and scale at that point (a local affine map from a 100 m geodesic east/north pair).
  A file with none of these is refused, asking for ``--crs`` and ``--origin``.
* **One building per IfcBuilding**: id = its GlobalId; footprint = the union of the projected triangles of
  the elements of its ground storey except roofs (eaves, rafters and overhangs of upper floors do not count:
  the outline at ground level), exterior only; ground = the building's
  ElevationOfTerrain, else the floor of the lowest storey at or above the model's ±0 (z >= 0), else the
  lowest storey; roof = the highest vertex; storeys from IfcBuildingStorey; use from
  Pset_BuildingCommon.OccupancyType, ObjectType or Name; year from YearOfConstruction; CIM level 7 when
  elements are decomposed into parts, 6 with elements, 5 with spaces only (CJJ/T 315-2022).
* **Elements** (every IfcElement but openings and virtual elements, and every IfcSpace) are kept in
  ``Building.elements`` with IFC class, GlobalId, name, predefined type, storey, parent, 3-D bounds and
  property/quantity sets.
* **Underground parts**: the elements of basement storeys and those lying wholly below the ground level
  become one :class:`~cim.model.UndergroundStructure` of kind ``basement`` (``building_id`` = the
  building): the union of their plan projections (exterior) between their lowest vertex and the ground
  level.  As a feature of ``underground-structures`` it counts in the underground-space, excavation and
  clash analyses like any surveyed basement (its envelope, as the underground space it takes).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from ..model import (
    Building,
    BuildingElement,
    BuildingUse,
    City,
    Storey,
    StructureKind,
    Surface,
    SurfaceType,
    UndergroundStructure,
)
from ._surfaces import Polys, shapes2d, union_footprint
from .base import ImportContext, ImportError_, ImportResult
from .registry import register
from .reproject import resolve_crs, to_city

_SNIFF = re.compile(rb"FILE_SCHEMA\s*\(\s*\(\s*'IFC", re.IGNORECASE)
_SKIP = ("IfcFeatureElementSubtraction", "IfcVirtualElement")  # voids and non-physical elements
_ROOF_CLASSES = ("IfcRoof",)
_GROUND_TOL = 0.01  # m: an element whose top is this close to the ground level counts as below ground
_USE_WORDS = (  # substring -> use (English, German, Dutch, Chinese)
    ("residential", BuildingUse.residential),
    ("wohn", BuildingUse.residential),
    ("dwelling", BuildingUse.residential),
    ("housing", BuildingUse.residential),
    ("住宅", BuildingUse.residential),
    ("mixed", BuildingUse.mixed),
    ("综合", BuildingUse.mixed),
    ("office", BuildingUse.commercial),
    ("commercial", BuildingUse.commercial),
    ("retail", BuildingUse.commercial),
    ("büro", BuildingUse.commercial),
    ("办公", BuildingUse.commercial),
    ("商业", BuildingUse.commercial),
    ("industr", BuildingUse.industrial),
    ("factory", BuildingUse.industrial),
    ("工业", BuildingUse.industrial),
    ("厂房", BuildingUse.industrial),
    ("school", BuildingUse.public),
    ("hospital", BuildingUse.public),
    ("public", BuildingUse.public),
    ("library", BuildingUse.public),
    ("学校", BuildingUse.public),
    ("医院", BuildingUse.public),
)


class Placement:
    """Model world coordinates (metres) -> city coordinates: ``xyz_city = A @ (xyz - o) + t`` per row,
    with A (3, 3) and o, t (3,); ``how`` says where it came from."""

    def __init__(self, a: np.ndarray, o: np.ndarray, t: np.ndarray, how: str, source_crs: str | None) -> None:
        self.a, self.o, self.t, self.how, self.source_crs = a, o, t, how, source_crs

    def apply(self, xyz: np.ndarray) -> np.ndarray:
        """(n, 3) model metres -> (n, 3) city metres."""
        return (np.asarray(xyz, float) - self.o) @ self.a.T + self.t


class IfcReader:
    name = "ifc"
    extensions = (".ifc",)
    description = "IFC 2x3 / 4 / 4x3 (STEP): BIM buildings with storeys, elements, property sets and triangles"

    def sniff(self, head: bytes, path: Path) -> bool:
        return head.lstrip().startswith(b"ISO-10303-21") and _SNIFF.search(head) is not None

    def read(self, path: Path, ctx: ImportContext) -> ImportResult:
        try:
            import ifcopenshell
        except ModuleNotFoundError:  # pragma: no cover - a core dependency
            raise ImportError_(
                "Reading IFC needs ifcopenshell (pip install ifcopenshell).", file=ctx.filename
            ) from None
        try:
            f = ifcopenshell.open(str(path))
        except Exception as exc:  # ifcopenshell raises its own error types for bad STEP
            raise ImportError_(f"Not a readable IFC file: {exc}.", file=ctx.filename) from None
        if not f.schema.upper().startswith(("IFC2X3", "IFC4")):
            raise ImportError_(f"IFC schema {f.schema} is not supported (IFC2X3, IFC4, IFC4X3).", file=ctx.filename)
        buildings = f.by_type("IfcBuilding")
        if not buildings:
            raise ImportError_("The IFC file holds no IfcBuilding.", file=ctx.filename)
        warnings: list[str] = []
        unit = _unit_scale(f)
        placement = _placement(f, ctx, unit, warnings)
        ctx.report(0.05)
        shapes = _geometry(f, placement, ctx)
        ctx.report(0.8)
        features: list[Any] = []
        for bldg in buildings:
            features += _building(f, bldg, shapes, placement, unit, len(buildings) == 1, ctx, warnings)
        ctx.report(1.0)
        n_tri = sum(len(s[1]) for s in shapes.values())
        return ImportResult(
            features=features,
            source_crs=placement.source_crs,
            warnings=warnings,
            info={
                "schema": f.schema,
                "placement": placement.how,
                "elements_with_geometry": len(shapes),
                "triangles": n_tri,
            },
        )


# -- placement ------------------------------------------------------------------------------------------------


def _unit_scale(f: Any) -> float:
    """Metres per project length unit."""
    import ifcopenshell.util.unit

    return float(ifcopenshell.util.unit.calculate_unit_scale(f))


def parse_origin(text: str | tuple[float, ...] | list[float]) -> tuple[float, float, float, float]:
    """``--origin E,N[,H[,angle]]`` -> (E, N, H, angle°): where the model's origin lands in ``--crs`` (metres)
    and the angle of the model's x axis anticlockwise from grid east (degrees)."""
    try:
        vals = [float(v) for v in (text.replace(";", ",").split(",") if isinstance(text, str) else text)]
    except (TypeError, ValueError):
        vals = []
    if not 2 <= len(vals) <= 4 or not all(math.isfinite(v) for v in vals):
        raise ImportError_(f"--origin needs E,N[,H[,angle]] (2 to 4 finite numbers), got {text!r}.", parameter="origin")
    vals += [0.0] * (4 - len(vals))
    return vals[0], vals[1], vals[2], vals[3]


def _rot(theta: float, scale: float = 1.0, z_scale: float | None = None) -> np.ndarray:
    c, s = math.cos(theta), math.sin(theta)
    return np.array(
        [[c * scale, -s * scale, 0], [s * scale, c * scale, 0], [0, 0, scale if z_scale is None else z_scale]]
    )


def _placement(f: Any, ctx: ImportContext, unit: float, warnings: list[str]) -> Placement:
    origin = ctx.origin
    conv = [c for c in (f.by_type("IfcMapConversion") if f.schema.upper() != "IFC2X3" else [])]
    site = (f.by_type("IfcSite") or [None])[0]
    has_ll = site is not None and site.RefLatitude is not None and site.RefLongitude is not None
    if has_ll and not any(site.RefLatitude) and not any(site.RefLongitude):
        has_ll = False  # 0°, 0°: an exporter's default, not a position
    if origin is not None:
        if ctx.crs is None:
            raise ImportError_("--origin needs --crs (the CRS of the origin's coordinates).", file=ctx.filename)
        e, n, h, ang = parse_origin(origin)
        if conv or has_ll:
            warnings.append("--origin given: the file's own georeferencing was ignored")
        src = resolve_crs(None, ctx)
        return _via_crs(ctx, src, _rot(math.radians(ang)), np.zeros(3), np.array([e, n, h]), "--origin")
    if conv:
        return _map_conversion(f, conv[0], ctx, unit, warnings)
    if has_ll:
        return _site_reference(f, site, ctx, unit, warnings)
    raise ImportError_(
        "The IFC file is not georeferenced (no IfcMapConversion and no IfcSite RefLatitude/RefLongitude): "
        "give --crs and --origin E,N[,H[,angle]] (where the model's origin lands, and the angle of its x axis "
        "from grid east in degrees).",
        file=ctx.filename,
    )


def _via_crs(ctx: ImportContext, src: Any, a: np.ndarray, o: np.ndarray, t: np.ndarray, how: str) -> Placement:
    """The affine map into ``src`` (its units), then into the city CRS linearised at the origin: exact for a city
    in ``src``, and within millimetres over a building otherwise (a local frame of 100 units)."""
    city: City = ctx.city
    if src.to_epsg() == city.crs_epsg:
        return Placement(a, o, t, how, src.srs)
    pts = np.array([[t[0], t[1], t[2]], [t[0] + 100, t[1], t[2]], [t[0], t[1] + 100, t[2]]])
    c = _finite(to_city(pts, src, city), ctx)
    jac = np.eye(3)
    jac[:2, 0] = (c[1, :2] - c[0, :2]) / 100
    jac[:2, 1] = (c[2, :2] - c[0, :2]) / 100
    jac[2, 2] = (c[0, 2] / t[2]) if t[2] else 1.0
    return Placement(jac @ a, o, c[0], how, src.srs)


def _finite(xyz: np.ndarray, ctx: ImportContext) -> np.ndarray:
    if not np.isfinite(xyz).all():
        raise ImportError_(
            "The IFC file's georeference places the model outside what the city CRS can represent.",
            file=ctx.filename,
        )
    return xyz


def _map_conversion(f: Any, mc: Any, ctx: ImportContext, unit: float, warnings: list[str]) -> Placement:
    target = mc.TargetCRS
    name = getattr(target, "Name", None)
    src = resolve_crs(name, ctx, what="IfcProjectedCRS")
    map_unit = 1.0
    mu = getattr(target, "MapUnit", None)
    if mu is not None:
        map_unit = _named_unit_metres(mu)
    scale = mc.Scale
    if scale is None:
        scale = unit / map_unit
        if abs(scale - 1) > 1e-12:
            warnings.append(f"IfcMapConversion has no Scale; took {scale:g} (project unit to map unit)")
    xa, xo = (mc.XAxisAbscissa, mc.XAxisOrdinate)
    theta = math.atan2(xo or 0.0, xa if xa is not None else 1.0)
    # model metres -> project units (/unit) -> map units (Scale, rotation); pyproj takes map units from there
    a = _rot(theta, scale / unit)
    t = np.array([mc.Eastings, mc.Northings, mc.OrthogonalHeight], dtype=float)
    o = np.zeros(3)
    wcs = _wcs(f, unit)
    if wcs is not None:  # IfcMapConversion maps the context's coordinate system, not the world's
        a = a @ wcs[:3, :3].T
        o = wcs[:3, 3]
    return _via_crs(ctx, src, a, o, t, "IfcMapConversion")


def _named_unit_metres(u: Any) -> float:
    import ifcopenshell.util.unit

    try:
        return (
            float(ifcopenshell.util.unit.get_prefix_multiplier(getattr(u, "Prefix", None)))
            if u.is_a("IfcSIUnit")
            else float(u.ConversionFactor.ValueComponent.wrappedValue)
            * _named_unit_metres(u.ConversionFactor.UnitComponent)
        )
    except Exception:  # noqa: BLE001 - an odd unit: metres
        return 1.0


def _wcs(f: Any, unit: float) -> np.ndarray | None:
    """The model context's WorldCoordinateSystem (4x4, metres) when it is not the identity."""
    import ifcopenshell.util.placement

    for ctxt in f.by_type("IfcGeometricRepresentationContext", include_subtypes=False):
        if ctxt.ContextType == "Model" and ctxt.WorldCoordinateSystem is not None:
            m = np.asarray(ifcopenshell.util.placement.get_axis2placement(ctxt.WorldCoordinateSystem), float)
            m[:3, 3] *= unit
            return None if np.allclose(m, np.eye(4)) else m
    return None


def dms(value: Any) -> float:
    """An IfcCompoundPlaneAngleMeasure (degrees, minutes, seconds, millionths of a second) -> degrees."""
    parts = list(value) + [0] * (4 - len(value))
    sign = -1.0 if any(p < 0 for p in parts) else 1.0
    d, m, s, us = (abs(p) for p in parts[:4])
    return sign * (d + m / 60 + (s + us / 1e6) / 3600)


def _site_reference(f: Any, site: Any, ctx: ImportContext, unit: float, warnings: list[str]) -> Placement:
    import ifcopenshell.util.placement
    from pyproj import CRS, Geod

    lat, lon = dms(site.RefLatitude), dms(site.RefLongitude)
    elev = float(site.RefElevation or 0.0) * unit
    m = (
        np.asarray(ifcopenshell.util.placement.get_local_placement(site.ObjectPlacement), float)
        if site.ObjectPlacement is not None
        else np.eye(4)
    )
    o = m[:3, 3] * unit
    north = (0.0, 1.0)
    for ctxt in f.by_type("IfcGeometricRepresentationContext", include_subtypes=False):
        if ctxt.ContextType == "Model" and ctxt.TrueNorth is not None:
            north = tuple(ctxt.TrueNorth.DirectionRatios[:2])
    phi = math.atan2(north[0], north[1])  # turns the model's true-north direction onto local north
    geod = Geod(ellps="WGS84")
    ex, ey, _ = geod.fwd(lon, lat, 90.0, 100.0)
    nx, ny, _ = geod.fwd(lon, lat, 0.0, 100.0)
    ll = np.array([[lon, lat, elev], [ex, ey, elev], [nx, ny, elev]])
    c = _finite(to_city(ll, CRS.from_epsg(4326), ctx.city, z_factor=1.0), ctx)
    jac = np.eye(3)
    jac[:2, 0] = (c[1, :2] - c[0, :2]) / 100  # local east, 1 m -> city
    jac[:2, 1] = (c[2, :2] - c[0, :2]) / 100  # local north
    warnings.append(
        f"placed from IfcSite RefLatitude {lat:.7f}, RefLongitude {lon:.7f}, RefElevation {elev:g} m "
        f"(true north {math.degrees(phi):.2f}° from the model's y axis); heights taken in the city datum"
    )
    return Placement(jac @ _rot(phi), o, c[0], "IfcSite RefLatitude/RefLongitude", "EPSG:4326")


# -- geometry -------------------------------------------------------------------------------------------------


def _geometry(f: Any, placement: Placement, ctx: ImportContext) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Element step id -> (vertices (n, 3) city metres, faces (m, 3) int) from the geometry iterator."""
    import multiprocessing

    import ifcopenshell.geom

    settings = ifcopenshell.geom.settings()
    settings.set("use-world-coords", True)
    include = [e for e in f.by_type("IfcElement") if not e.is_a(_SKIP[0]) and not e.is_a(_SKIP[1])]
    include += f.by_type("IfcSpace")
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    if not include:
        return out
    it = ifcopenshell.geom.iterator(settings, f, max(1, min(4, multiprocessing.cpu_count())), include=include)
    if not it.initialize():
        return out
    total = len(include)
    while True:
        sh = it.get()
        g = sh.geometry
        v = np.asarray(g.verts, float).reshape(-1, 3)
        faces = np.asarray(g.faces, np.int64).reshape(-1, 3)
        if len(faces):
            out[sh.id] = (_finite(placement.apply(v), ctx), faces)
        ctx.report(0.05 + 0.75 * len(out) / total)
        if not it.next():
            break
    return out


# -- buildings ------------------------------------------------------------------------------------------------


def _building_of(e: Any) -> Any:
    import ifcopenshell.util.element as ue

    seen = 0
    node = ue.get_container(e) or ue.get_aggregate(e)
    while node is not None and seen < 50:
        if node.is_a("IfcBuilding"):
            return node
        node = ue.get_aggregate(node) or ue.get_container(node)
        seen += 1
    return None


def _storey_of(e: Any) -> Any:
    import ifcopenshell.util.element as ue

    node, seen = e, 0
    while node is not None and seen < 50:
        parent = ue.get_container(node) or ue.get_aggregate(node)
        if parent is not None and parent.is_a("IfcBuildingStorey"):
            return parent
        node, seen = parent, seen + 1
    return None


def _clean_value(v: Any) -> Any:
    if isinstance(v, bool | int | str) or v is None:
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, list | tuple):
        return [_clean_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _clean_value(x) for k, x in v.items() if k != "id"}
    return str(v)


def _psets(e: Any) -> dict[str, dict[str, Any]]:
    import ifcopenshell.util.element as ue

    return {name: _clean_value(props) for name, props in ue.get_psets(e).items()}


def _use(bldg: Any, psets: dict[str, dict[str, Any]]) -> BuildingUse | None:
    texts = [psets.get("Pset_BuildingCommon", {}).get("OccupancyType"), bldg.ObjectType, bldg.Name, bldg.LongName]
    for text in texts:
        if not isinstance(text, str):
            continue
        low = text.lower()
        for word, use in _USE_WORDS:
            if word in low:
                return use
    return None


def _is_roof(e: Any) -> bool:
    return (
        e.is_a("IfcRoof")
        or (e.is_a("IfcSlab") and getattr(e, "PredefinedType", None) == "ROOF")
        or (e.is_a("IfcCovering") and getattr(e, "PredefinedType", None) == "ROOFING")
    )


def _surface_type(e: Any) -> SurfaceType | None:
    if _is_roof(e):
        return SurfaceType.roof
    if e.is_a("IfcSlab") and getattr(e, "PredefinedType", None) == "BASESLAB" or e.is_a("IfcFooting"):
        return SurfaceType.ground
    if e.is_a("IfcWall") or e.is_a("IfcWindow") or e.is_a("IfcDoor") or e.is_a("IfcCurtainWall"):
        return SurfaceType.wall
    return None


def _triangles(shapes: dict[int, tuple[np.ndarray, np.ndarray]], ids: list[int]) -> Polys:
    """The triangles of elements ``ids`` as one :class:`Polys` (one ring of 3 per polygon)."""
    tris = [shapes[i][0][shapes[i][1]].reshape(-1, 3) for i in ids if i in shapes]
    if not tris:
        return Polys.empty()
    xyz = np.concatenate(tris)
    n = len(xyz) // 3
    return Polys.from_lengths(xyz, np.full(n, 3), np.ones(n, np.int64), np.full(n, -1, np.int8))


def _plan(
    shapes: dict[int, tuple[np.ndarray, np.ndarray]], ids: list[int], fill: bool
) -> list[list[tuple[float, float]]]:
    rings, _, _ = union_footprint(shapes2d(_triangles(shapes, ids)))
    return rings[:1] if fill else rings


def _building(
    f: Any,
    bldg: Any,
    shapes: dict[int, tuple[np.ndarray, np.ndarray]],
    placement: Placement,
    unit: float,
    only: bool,
    ctx: ImportContext,
    warnings: list[str],
) -> list[Any]:
    import ifcopenshell.util.element as ue
    import ifcopenshell.util.placement as up

    fid = bldg.GlobalId
    members = [
        e
        for e in list(f.by_type("IfcElement")) + list(f.by_type("IfcSpace"))
        if not e.is_a(_SKIP[0]) and not e.is_a(_SKIP[1])
    ]
    owner = {e.id(): _building_of(e) for e in members}
    elems = [e for e in members if owner[e.id()] == bldg or (owner[e.id()] is None and only)]
    geo = [e for e in elems if e.id() in shapes]
    if not geo:
        raise ImportError_("The IfcBuilding has no element with body geometry.", file=ctx.filename, feature=fid)

    # storeys: world elevation of each storey's placement, into the city datum
    storeys = []
    for s in ue.get_decomposition(bldg, is_recursive=True):
        if s.is_a("IfcBuildingStorey"):
            z = float(up.get_local_placement(s.ObjectPlacement)[2, 3]) * unit if s.ObjectPlacement else 0.0
            storeys.append((s, z))
    storeys.sort(key=lambda sz: sz[1])
    # ground level (model metres): ElevationOfTerrain, else the lowest storey at or above ±0, else the lowest
    bz = float(up.get_local_placement(bldg.ObjectPlacement)[2, 3]) * unit if bldg.ObjectPlacement else 0.0
    if getattr(bldg, "ElevationOfTerrain", None) is not None:
        ground_model = bz + float(bldg.ElevationOfTerrain) * unit
    else:
        above = [z for _, z in storeys if z >= -_GROUND_TOL]
        ground_model = min(above) if above else (storeys[0][1] if storeys else 0.0)
    ground = float(placement.apply(np.array([[0.0, 0.0, ground_model]]))[0, 2])
    below_storeys = {s.id() for s, z in storeys if z < ground_model - _GROUND_TOL}

    storey_of = {e.id(): _storey_of(e) for e in elems}
    per_storey = Counter(s.id() for s in storey_of.values() if s is not None)
    zmax = {i: float(shapes[i][0][:, 2].max()) for i in (e.id() for e in geo)}
    below = {
        e.id()
        for e in elems
        if (storey_of[e.id()] is not None and storey_of[e.id()].id() in below_storeys)
        or (e.id() in zmax and zmax[e.id()] <= ground + _GROUND_TOL)
    }
    solid = [e for e in geo if not e.is_a("IfcSpace")]
    # footprint: the ground storey's elements (the lowest storey at or above ground), else everything above ground
    ground_storey = next((s.id() for s, z in storeys if s.id() not in below_storeys), None)
    above_ids = (
        [e.id() for e in solid if _sid(storey_of[e.id()]) == ground_storey and e.id() not in below and not _is_roof(e)]
        or [e.id() for e in solid if e.id() not in below and not _is_roof(e)]
        or [e.id() for e in solid]
    )
    footprint = _plan(shapes, above_ids, fill=True)
    if not footprint:
        raise ImportError_("The building's elements have no plan area (no footprint).", file=ctx.filename, feature=fid)
    top = max(zmax[e.id()] for e in solid) if solid else max(zmax.values())
    height = top - ground
    if not 0 < height <= 1000:
        raise ImportError_(
            f"The building's height from its geometry is {height:.2f} m (ground {ground:.2f}, top {top:.2f}).",
            file=ctx.filename,
            feature=fid,
        )

    elements = []
    has_parts = False
    for e in elems:
        parent = ue.get_aggregate(e)
        parent_id = parent.GlobalId if parent is not None and parent.is_a("IfcElement") else None
        has_parts |= parent_id is not None or e.is_a("IfcBuildingElementPart") or e.is_a("IfcElementAssembly")
        bounds = None
        if e.id() in shapes:
            v = shapes[e.id()][0]
            lo, hi = v.min(axis=0), v.max(axis=0)
            bounds = tuple(round(float(x), 4) for x in (*lo, *hi))
        st = storey_of[e.id()]
        elements.append(
            BuildingElement(
                global_id=e.GlobalId,
                ifc_class=e.is_a(),
                name=e.Name,
                predefined_type=_predefined(e),
                storey=st.Name if st is not None else None,
                parent=parent_id,
                below_ground=e.id() in below,
                bounds=bounds,
                psets=_psets(e),
            )
        )
    surfaces: list[Surface] = []
    for e in solid:
        v, faces = shapes[e.id()]
        tri = np.round(v[faces], 4)  # (m, 3, 3)
        area2 = np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
        tri = tri[area2 > 1e-8].tolist()  # slivers collapsed by the 0.1 mm rounding carry no surface
        st = _surface_type(e)
        surfaces += [Surface.model_construct(type=st, rings=[[tuple(p) for p in t]], part=e.GlobalId) for t in tri]

    bpsets = _psets(bldg)
    common = bpsets.get("Pset_BuildingCommon", {})
    year = common.get("YearOfConstruction")
    year = (
        int(year) if isinstance(year, int | str) and str(year).strip().isdigit() and 1000 <= int(year) <= 2100 else None
    )
    use = _use(bldg, bpsets)
    n_solid = sum(1 for e in elems if not e.is_a("IfcSpace"))
    level = 7 if has_parts else 6 if n_solid else 5
    attrs: dict[str, Any] = {
        "ifc": {
            "schema": f.schema,
            "global_id": bldg.GlobalId,
            "object_type": bldg.ObjectType,
            "long_name": getattr(bldg, "LongName", None),
            "placement": placement.how,
            "file": ctx.filename,
            "classes": dict(Counter(e.is_a() for e in elems)),
        },
        "psets": bpsets,
    }
    if use is None:
        warnings.append(f"{fid}: no use found in Pset_BuildingCommon.OccupancyType, ObjectType or Name; residential")
    building = Building(
        id=fid,
        name=bldg.Name or getattr(bldg, "LongName", None),
        attributes=attrs,
        footprint=footprint,
        ground_elevation=round(ground, 4),
        height=round(height, 4),
        roof_elevation=round(top, 4),
        floors_above=sum(1 for s, z in storeys if s.id() not in below_storeys) or None,
        floors_below=len(below_storeys),
        use=use or BuildingUse.residential,
        year_built=year,
        cim_level=level,
        surfaces=surfaces or None,
        height_source="geometry",
        storeys=[
            Storey(
                name=s.Name,
                global_id=s.GlobalId,
                elevation=round(float(placement.apply(np.array([[0.0, 0.0, z]]))[0, 2]), 4),
                below_ground=s.id() in below_storeys,
                elements=per_storey.get(s.id(), 0),
            )
            for s, z in storeys
        ],
        elements=elements,
    )
    out: list[Any] = [building]
    under = [e.id() for e in geo if e.id() in below]
    if under:
        plan = _plan(shapes, under, fill=True)
        bottom = min(float(shapes[i][0][:, 2].min()) for i in under)
        utop = min(ground, max(zmax[i] for i in under))
        if plan and utop - bottom > 1e-3:
            out.append(
                UndergroundStructure(
                    id=f"{fid}-below-ground",
                    name=f"{building.name or fid}: below ground ({len(under)} element{'' if len(under) == 1 else 's'})",
                    kind=StructureKind.basement,
                    footprint=plan,
                    top_elevation=round(utop, 4),
                    bottom_elevation=round(bottom, 4),
                    building_id=fid,
                    attributes={"ifc": {"building": fid, "elements": [e.GlobalId for e in geo if e.id() in below]}},
                )
            )
    return out


def _sid(storey: Any) -> int | None:
    return None if storey is None else storey.id()


def _predefined(e: Any) -> str | None:
    v = getattr(e, "PredefinedType", None) if hasattr(e, "PredefinedType") else None
    return v if isinstance(v, str) else None


register(IfcReader())
