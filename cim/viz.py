"""3-D views of a city with pyvista: buildings, pipes at their true diameter, terrain, and analysis results.

``plot(city, ...)`` works the same for a local and a remote city (:mod:`cim.city`): the features come from
``city.features`` and their meshes from ``city.meshes`` (:mod:`cim.mesh`'s builders; a remote city fetches the
GLB of LOD2 buildings from the service), the terrain from ``city.terrain_mesh`` (the DEM, or the service's
terrain 3D Tiles).  Coordinates are the city CRS's metres shifted to a local origin near the view's centre
(``plotter.cim_origin``, (3,) float) so that float32 keeps them to well under a millimetre.

    import cim, cim.viz
    city = cim.open("data/sample.cim.sqlite")
    cim.viz.plot(city, color_by="height", off_screen=True).screenshot("city.png")   # a static image
    cim.viz.plot(city, bbox=(123.4090, 41.7886, 123.4100, 41.7893)).show()          # interactive

Static screenshots render off screen without a display: VTK's wheels (9.4 and later) draw through EGL with
Mesa's software renderer (Debian: libegl1, libegl-mesa0, libgl1-mesa-dri), which this module selects when
there is no ``DISPLAY``.  In Jupyter, ``plotter.show()`` is interactive with pyvista's trame backend
(``pip install 'pyvista[jupyter]'``), otherwise it shows a static image.  Needs the ``viz`` extra
(``pip install 'cim-service[viz]'``).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely

from .analysis.compliance import ComplianceReport
from .analysis.excavation import Excavation
from .analysis.highrise import ScreeningResult
from .analysis.underground import UndergroundUse
from .mesh import BUILDING_COLORS, UTILITY_COLORS, Mesh

if TYPE_CHECKING:
    import pyvista

    from .city import CityModel

#: layers in drawing order
LAYERS = ("terrain", "underground-structures", "pipe-nodes", "pipes", "buildings")
SURFACE_LAYERS = ("terrain", "buildings")
UNDERGROUND_LAYERS = ("terrain", "underground-structures", "pipe-nodes", "pipes")

VERDICT_COLORS: dict[str, tuple[int, int, int]] = {
    "ok": (188, 198, 186),
    "consult-fire-rescue": (250, 204, 60),
    "exceeds-new-build-limit": (176, 112, 208),  # existing buildings over a new-construction limit
    "restricted": (245, 130, 32),
    "not-allowed": (214, 30, 40),
}
SEVERITY_COLORS: dict[str, tuple[int, int, int]] = {
    "critical": (214, 30, 40),
    "high": (245, 130, 32),
    "medium": (250, 204, 60),
    "low": (120, 170, 220),
}
HIGHLIGHT = (230, 30, 200)
DIM = (150, 150, 150)
_PALETTE = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]


def _pyvista() -> Any:
    try:
        import pyvista as pv
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("cim.viz needs pyvista: pip install 'cim-service[viz]'") from None
    return pv


def headless() -> bool:
    """True where there is no display to draw on (then VTK renders through EGL, off screen)."""
    return sys.platform.startswith("linux") and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")


def _setup_offscreen() -> None:
    if headless():
        os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


# -- meshes to pyvista -----------------------------------------------------------------------------------------------
def to_polydata(mesh: Mesh, origin: np.ndarray) -> pyvista.PolyData:
    """A :class:`~cim.mesh.Mesh` as pyvista PolyData shifted by ``origin`` (float32 points), with point arrays
    ``rgba`` (uint8) and ``feature`` (index into ``mesh.ids``); vertex normals where the mesh has them."""
    pv = _pyvista()
    faces = np.column_stack([np.full(len(mesh.faces), 3, np.int64), mesh.faces]).ravel()
    poly = pv.PolyData((mesh.vertices - origin).astype(np.float32), faces)
    poly.point_data["rgba"] = np.ascontiguousarray(mesh.colors, dtype=np.uint8)
    poly.point_data["feature"] = mesh.feature.astype(np.int64)
    if len(mesh.normals) and np.any(mesh.normals):
        poly.point_data.active_normals = np.asarray(mesh.normals, dtype=np.float32)
    return poly


def _values(features: Sequence[Any], name: str) -> list[Any]:
    out = []
    for f in features:
        v = getattr(f, name, None)
        if v is None and isinstance(getattr(f, "attributes", None), dict):
            v = f.attributes.get(name)
        out.append(getattr(v, "value", v))
    return out


def _category_colors(name: str, values: list[Any]) -> dict[Any, tuple[int, int, int]]:
    known: dict[str, dict[str, tuple[int, ...]]] = {
        "utility": {k.value: v[:3] for k, v in UTILITY_COLORS.items()},
        "use": {k.value: v[:3] for k, v in BUILDING_COLORS.items()},
        "verdict": VERDICT_COLORS,  # type: ignore[dict-item]
        "severity": SEVERITY_COLORS,  # type: ignore[dict-item]
    }
    base = known.get(name, {})
    cats = sorted({v for v in values if v is not None}, key=str)
    return {c: tuple(base.get(c, _PALETTE[i % len(_PALETTE)]))[:3] for i, c in enumerate(cats)}  # type: ignore[misc]


def _numeric(values: list[Any]) -> bool:
    vals = [v for v in values if v is not None]
    return bool(vals) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals)


def _rgb(color: Sequence[int]) -> tuple[float, float, float]:
    return (color[0] / 255, color[1] / 255, color[2] / 255)


# -- what a result highlights ------------------------------------------------------------------------------------------
class _Highlight:
    """Per-feature colours (and whether others are dimmed) from an analysis result or a list of ids."""

    def __init__(self, result: Any) -> None:
        self.colors: dict[str, tuple[int, int, int]] = {}
        self.legend: dict[str, tuple[int, int, int]] = {}
        self.points: list[tuple[np.ndarray, str, tuple[int, int, int]]] = []  # (x, y, z) city, label, colour
        self.dim_others = True
        self.underground = False
        if result is None:
            self.dim_others = False
        elif isinstance(result, Excavation):
            self.underground = True
            for h in result.hits:
                self.colors.setdefault(h.id, SEVERITY_COLORS[h.severity])
            self.legend = {
                f"{s} ({result.counts.get(s, 0)})": c for s, c in SEVERITY_COLORS.items() if result.counts.get(s, 0)
            }
        elif isinstance(result, ComplianceReport):
            self.underground = True
            for v in result.violations:
                for ref in v.features:
                    self.colors.setdefault(ref.id, HIGHLIGHT)
                c = np.asarray(shapely.get_coordinates(shapely.geometry.shape(v.location), include_z=True), float)
                c = np.nan_to_num(c, nan=np.nan)
                self.points.append((c.mean(axis=0), v.kind, VERDICT_COLORS["not-allowed"]))
            self.legend = {f"in a violation ({len(result.violations)})": HIGHLIGHT}
        elif isinstance(result, UndergroundUse):
            self.underground = True
            for band in result.bands:
                for fv in band.features:
                    self.colors.setdefault(fv.id, HIGHLIGHT)
            self.legend = {"occupies the region": HIGHLIGHT}
        else:
            items = list(result)
            if items and isinstance(items[0], ScreeningResult):
                self.dim_others = False
                for r in items:
                    self.colors[r.id] = VERDICT_COLORS[r.verdict.value]
                counts: dict[str, int] = {}
                for r in items:
                    counts[r.verdict.value] = counts.get(r.verdict.value, 0) + 1
                short = {"consult-fire-rescue": "consult"}  # VTK's legend box cuts long labels
                self.legend = {
                    f"{short.get(v, v)} ({counts[v]})": c for v, c in VERDICT_COLORS.items() if counts.get(v)
                }
            else:
                ids = [getattr(x, "id", x) for x in items]
                self.colors = {str(i): HIGHLIGHT for i in ids}
                self.legend = {f"highlighted ({len(ids)})": HIGHLIGHT}


# -- the scene ---------------------------------------------------------------------------------------------------------
def plot(  # noqa: C901 - predates the complexity gate (issue 14); split it when it next changes
    city: CityModel,
    *,
    bbox: Sequence[float] | None = None,
    layers: Iterable[str] | None = None,
    color_by: str | None = None,
    highlight: Any = None,
    off_screen: bool = False,
    bbox_crs: str | None = None,
    region: Any = None,
    region_crs: str | None = None,
    terrain_opacity: float | None = None,
    title: str | None = None,
    window_size: tuple[int, int] = (1280, 800),
    legend: bool = True,
    plotter: pyvista.Plotter | None = None,
) -> pyvista.Plotter:
    """A pyvista Plotter showing ``city`` (a local or remote city); ``.show()`` it or ``.screenshot(path)``.

    Parameters
    ----------
    bbox : the area drawn, as ``city.features`` takes it (x/y order in ``bbox_crs``, default CRS84); default:
        around ``region`` when given, else the whole city.
    layers : any of ``terrain``, ``buildings``, ``pipes``, ``pipe-nodes``, ``underground-structures``; default
        terrain and buildings, or terrain and the underground layers when ``highlight`` is an underground
        result.
    color_by : a feature attribute (``height``, ``use``, ``year_built``, ``utility``, ``diameter`` ...) colouring
        the layers that have it (numbers on a colour map, categories in distinct colours), or ``verdict``: the
        buildings' high-rise screening.  Default: buildings by use (LOD2: roof, wall), pipes by utility (the
        CJJ 61 legend colours of :data:`cim.mesh.UTILITY_COLORS`).
    highlight : an analysis result: :class:`~cim.analysis.Excavation` (features hit or near, by severity),
        :class:`~cim.analysis.ComplianceReport` (pipes in a violation, and markers where), :class:`~cim.analysis.
        UndergroundUse` (features occupying the region), a list of :class:`~cim.analysis.ScreeningResult`
        (buildings by verdict), or feature ids; other features are drawn grey and translucent.
    region : an analysis region (as ``city.excavation`` takes it, in ``region_crs``), drawn as a translucent
        prism (an excavation's pit, to its depth).
    terrain_opacity : default 1, or 0.25 when underground layers are drawn.
    off_screen : render without a window (for ``screenshot``).
    """
    pv = _pyvista()
    if off_screen or pv.OFF_SCREEN:
        _setup_offscreen()
    hl = _Highlight(highlight)
    if color_by == "verdict" and highlight is None:
        hl = _Highlight(city.screen_high_rise(bbox=bbox, bbox_crs=bbox_crs))
    layers = tuple(layers) if layers is not None else (UNDERGROUND_LAYERS if hl.underground else SURFACE_LAYERS)
    unknown = [x for x in layers if x not in LAYERS]
    if unknown:
        raise ValueError(f"unknown layers {unknown}; the layers are {', '.join(LAYERS)}")

    pit = city.region(region, region_crs) if region is not None else None
    if bbox is None and pit is not None:
        x0, y0, x1, y1 = pit.buffer(max(30.0, np.sqrt(pit.area))).bounds
        bbox, bbox_crs = (x0, y0, x1, y1), f"EPSG:{city.crs_epsg}"
    area = city.bbox_polygon(bbox, bbox_crs) if bbox is not None else None
    bounds = area.bounds if area is not None else None

    feats = {cid: city.features(cid, bbox=bbox, bbox_crs=bbox_crs) for cid in LAYERS[1:] if cid in layers}
    terrain = city.terrain_mesh(bounds) if "terrain" in layers else None
    boxes = [m for m in ([terrain] if terrain is not None else [])]
    meshes = {cid: city.meshes(fs) for cid, fs in feats.items() if len(fs)}
    boxes += [m for m in meshes.values() if len(m.vertices)]
    if bounds is None:
        if not boxes:
            raise ValueError("nothing to draw: the city has no features in these layers")
        lo = np.min([m.vertices.min(axis=0) for m in boxes], axis=0)
        hi = np.max([m.vertices.max(axis=0) for m in boxes], axis=0)
        bounds = (lo[0], lo[1], hi[0], hi[1])
    origin = np.array([round((bounds[0] + bounds[2]) / 2), round((bounds[1] + bounds[3]) / 2), 0.0])

    p = plotter or pv.Plotter(off_screen=off_screen, window_size=list(window_size))
    p.set_background("white")  # type: ignore[arg-type]
    # p.enable_depth_peeling()
    _set(p, "cim_origin", origin)
    _set(p, "cim_features", feats)
    underground = any(x in layers for x in UNDERGROUND_LAYERS[1:])
    if terrain is not None and len(terrain.faces):
        opacity = terrain_opacity if terrain_opacity is not None else (0.25 if underground else 1.0)
        p.add_mesh(
            to_polydata(terrain, origin),
            scalars="rgba",
            rgb=True,
            opacity=opacity,
            name="terrain",
            show_scalar_bar=False,
            smooth_shading=True,
        )
    entries: dict[str, tuple[int, int, int]] = {}
    bar_done = False
    for cid in LAYERS[1:]:
        if cid not in meshes:
            continue
        mesh, fs = meshes[cid], feats[cid]
        ids = [f.id for f in fs]
        values = _values(fs, color_by) if color_by and color_by != "verdict" else None
        if values is not None and all(v is None for v in values):
            values = None
        chosen = np.array([i in hl.colors for i in ids], bool) if hl.colors else np.zeros(len(ids), bool)
        dim = hl.dim_others and bool(hl.colors)
        rgba = mesh.colors.copy()
        if values is not None and not _numeric(values):
            cats = _category_colors(color_by, values)  # type: ignore[arg-type]
            per = np.array([(*cats[v], 255) if v is not None else (*DIM, 255) for v in values], np.uint8)
            rgba = per[mesh.feature]
            entries.update({f"{color_by}: {k}": c for k, c in cats.items()})
            values = None
        if hl.colors:
            per = np.array([(*hl.colors.get(i, (0, 0, 0)), 255) for i in ids], np.uint8)
            sel = chosen[mesh.feature]
            rgba[sel] = per[mesh.feature][sel]
            if dim:
                rgba[~sel, :3] = DIM
        elif cid == "pipes" and values is None:
            entries.update({f"{u.value}": c[:3] for u, c in UTILITY_COLORS.items() if any(f.utility == u for f in fs)})
        shown = mesh
        shown.colors = rgba
        if dim and (~chosen).any():  # the others, grey and translucent
            other = mesh.subset(np.flatnonzero(~chosen))
            if len(other.faces):
                p.add_mesh(
                    to_polydata(other, origin),
                    color=_rgb(DIM),
                    opacity=0.18,
                    name=f"{cid}-others",
                    smooth_shading=cid != "buildings",
                )
            shown = mesh.subset(np.flatnonzero(chosen))
        if not len(shown.faces):
            continue
        poly = to_polydata(shown, origin)
        if values is not None and not (hl.colors and dim):
            per = np.array([np.nan if v is None else float(v) for v in values])
            poly.point_data[color_by] = per[shown.feature]  # type: ignore[index]  # shown is the whole mesh here
            lo, hi = float(np.nanmin(per)), float(np.nanpercentile(per, 99.5))  # a few extremes saturate
            p.add_mesh(
                poly,
                scalars=color_by,
                cmap="viridis",
                nan_color=_rgb(DIM),
                name=cid,
                clim=[lo, max(hi, lo + 1)],
                show_scalar_bar=not bar_done,
                scalar_bar_args={"title": color_by, "color": "black"},  # type: ignore[arg-type]
                smooth_shading=cid != "buildings",
            )
            bar_done = True
        else:
            p.add_mesh(
                poly, scalars="rgba", rgb=True, name=cid, show_scalar_bar=False, smooth_shading=cid != "buildings"
            )
    if pit is not None:
        _add_pit(p, pit, highlight, terrain, origin)
    for xyz, _label, color in hl.points[:60]:
        if np.isfinite(xyz).all():
            p.add_mesh(pv.Sphere(radius=1.5, center=tuple(xyz - origin)), color=_rgb(color), name=None)
    if hl.points and len(hl.points) <= 20:
        pts = np.array([x - origin for x, _, _ in hl.points if np.isfinite(x).all()])
        labels = [lab for x, lab, _ in hl.points if np.isfinite(x).all()]
        if len(pts):
            p.add_point_labels(pts, labels, font_size=12, point_size=1, shape_opacity=0.6, always_visible=True)
    if legend:
        entries = {**entries, **hl.legend} if hl.legend else entries
        if entries:
            items = list(entries.items())[:14]
            width = min(0.5, 0.06 + 0.016 * max(len(k) for k, _ in items))
            p.add_legend(
                [[k, _rgb(c)] for k, c in items],  # type: ignore[arg-type]
                bcolor="white",
                face="rectangle",
                size=(width, min(0.024 * len(items), 0.36)),
                loc="upper right",
            )
    if title:
        p.add_text(title, font_size=11, color="black", position="upper_left")
    _camera(p, underground and "buildings" not in layers, _frame(boxes, bounds, origin))
    return p


# -- sunlight (日照) results -------------------------------------------------------------------------------------
def _sunlight_xyz(result: Any, city_epsg: int, crs: str | None) -> np.ndarray:
    """(n, 3) city-CRS metres of a sunlight result's points (in the request's ``crs``, official axis order)."""
    from .crs import check_supported, to_city_xy

    pts = [p for b in result.buildings for p in b.points]
    if not pts:
        raise ValueError("the sunlight result has no points (run it with points.report = 'all')")
    xy = to_city_xy(np.array([[p.x, p.y] for p in pts]), check_supported(crs, city_epsg), city_epsg)
    return np.column_stack([xy, [p.z for p in pts]])


def sunlight_points(
    result: Any, city_epsg: int, *, crs: str | None = None, origin: Sequence[float] | None = None
) -> pyvista.PolyData:
    """The sill points of a sunlight result (:class:`cim.analysis.sunlight.SunlightResult`) as pyvista PolyData.

    One point per façade point of the result, in its order (building by building), in the city CRS's metres
    (epsg ``city_epsg``) shifted by ``origin`` ((3,), default the points' rounded centre), float32.  Point arrays:
    ``minutes`` and ``hours`` (sunlit time with the proposals), ``minutes_without_proposals``, ``floor``,
    ``building`` (index into the field array ``building_ids``).  ``crs``: the CRS of the request that made the
    result (its points are in it; default CRS84).
    """
    pv = _pyvista()
    pts = [(k, p) for k, b in enumerate(result.buildings) for p in b.points]
    xyz = _sunlight_xyz(result, city_epsg, crs)
    if origin is None:
        origin = [round(float(xyz[:, 0].mean())), round(float(xyz[:, 1].mean())), 0.0]
    poly = pv.PolyData((xyz - np.asarray(origin, float)).astype(np.float32))
    minutes = np.array([p.minutes for _, p in pts], float)
    poly.point_data["minutes"] = minutes
    poly.point_data["hours"] = minutes / 60.0
    poly.point_data["minutes_without_proposals"] = np.array([p.minutes_without_proposals for _, p in pts], float)
    poly.point_data["floor"] = np.array([p.floor for _, p in pts], np.int64)
    poly.point_data["building"] = np.array([k for k, _ in pts], np.int64)
    poly.field_data["building_ids"] = np.array([b.id for b in result.buildings])
    return poly


def plot_sunlight(
    city: CityModel,
    result: Any,
    *,
    crs: str | None = None,
    off_screen: bool = False,
    window_size: tuple[int, int] = (1280, 800),
    point_size: float = 9.0,
    margin_m: float = 60.0,
) -> pyvista.Plotter:
    """The buildings around a sunlight result with its sill points coloured by sunlit hours (0 to the window's
    length, a scalar bar titled "sunlight hours"); ``crs`` as in :func:`sunlight_points`."""
    xyz = _sunlight_xyz(result, city.crs_epsg, crs)
    (x0, y0), (x1, y1) = xyz[:, :2].min(axis=0), xyz[:, :2].max(axis=0)
    bbox = (x0 - margin_m, y0 - margin_m, x1 + margin_m, y1 + margin_m)
    p = plot(city, bbox=bbox, bbox_crs=f"EPSG:{city.crs_epsg}", off_screen=off_screen, window_size=window_size,
             legend=False, title=f"sunlight {result.day} {'-'.join(result.window)} (true solar time)")  # fmt: skip
    poly = sunlight_points(result, city.crs_epsg, crs=crs, origin=p.cim_origin)
    h0, h1 = (int(w[:2]) * 60 + int(w[3:]) for w in result.window)
    p.add_mesh(
        poly,
        scalars="hours",
        cmap="plasma",
        clim=[0.0, (h1 - h0) / 60.0],
        point_size=point_size,
        render_points_as_spheres=True,
        name="sunlight",
        scalar_bar_args={"title": "sunlight hours", "color": "black"},  # type: ignore[arg-type]
    )
    # from the south-south-west and above: walls that face the sun's range face the camera
    c = np.asarray(poly.points, float).mean(axis=0)
    r = 1.6 * max(x1 - x0, y1 - y0) + 2 * margin_m
    p.camera.focal_point = tuple(c)
    p.camera.position = tuple(c + [-0.3 * r, -r, 0.7 * r])
    p.camera.up = (0.0, 0.0, 1.0)
    _set(p, "cim_sunlight", poly)
    return p


def _frame(meshes: list[Mesh], bounds: tuple[float, ...], origin: np.ndarray) -> list[float]:
    """The box the camera fits (relative to ``origin``): the view's area, and the height range of what lies in it."""
    x0, y0, x1, y1 = bounds[:4]
    zs = []
    for m in meshes:
        v = m.vertices
        inside = (v[:, 0] >= x0) & (v[:, 0] <= x1) & (v[:, 1] >= y0) & (v[:, 1] <= y1)
        if inside.any():
            zs += [float(v[inside, 2].min()), float(v[inside, 2].max())]
    z0, z1 = (min(zs), max(zs)) if zs else (0.0, 1.0)
    return [x0 - origin[0], x1 - origin[0], y0 - origin[1], y1 - origin[1], z0, z1]


def _set(obj: Any, name: str, value: Any) -> None:
    pv = _pyvista()
    if hasattr(pv, "set_new_attribute"):  # pyvista >= 0.46 refuses plain new attributes
        pv.set_new_attribute(obj, name, value)
    else:
        setattr(obj, name, value)


def _add_pit(p: Any, pit: shapely.Geometry, result: Any, terrain: Mesh | None, origin: np.ndarray) -> None:
    """The pit: the region from the ground down to the excavation's depth (or 10 m), translucent red."""
    pv = _pyvista()
    poly = pit if pit.geom_type == "Polygon" else max(pit.geoms, key=lambda g: g.area)
    ring = np.asarray(poly.exterior.coords)[:-1]
    top = None
    if terrain is not None and len(terrain.vertices):
        v = terrain.vertices
        x0, y0, x1, y1 = poly.buffer(15).bounds
        near = (v[:, 0] >= x0) & (v[:, 0] <= x1) & (v[:, 1] >= y0) & (v[:, 1] <= y1)
        if near.any():
            top = float(v[near, 2].mean())
    if isinstance(result, Excavation) and result.bottom_z is not None:
        bottom = result.bottom_z
        top = top if top is not None else bottom + 5
    else:
        depth = result.depth if isinstance(result, Excavation) and result.depth else 10.0
        top = top if top is not None else 0.0
        bottom = top - depth
    pts = np.column_stack([ring, np.full(len(ring), top)]) - origin
    face = np.concatenate([[len(ring)], np.arange(len(ring))])
    solid = pv.PolyData(pts.astype(np.float32), face).extrude((0, 0, bottom - top), capping=True)
    p.add_mesh(solid, color=_rgb((214, 30, 40)), opacity=0.25, name="pit")
    p.add_mesh(solid.extract_feature_edges(), color=_rgb((160, 0, 0)), line_width=2, name="pit-edges")


def _camera(p: Any, underground: bool, box: list[float]) -> None:
    """An oblique view from the south-south-west fitted to ``box`` (lower for underground views)."""
    p.view_vector((-0.45, -1.0, 0.55 if underground else 0.85), viewup=(0, 0, 1))
    p.reset_camera(bounds=box)
    p.camera.zoom(1.35)


def screenshot(city: CityModel, path: str | os.PathLike[str], **kw: Any) -> np.ndarray:
    """Render ``plot(city, **kw)`` off screen into the PNG at ``path``; returns the image (h, w, 3) uint8."""
    p = plot(city, off_screen=True, **kw)
    try:
        return p.screenshot(str(path), return_img=True)  # type: ignore[return-value]
    finally:
        p.close()


__all__ = ["plot", "screenshot", "to_polydata", "LAYERS", "VERDICT_COLORS", "SEVERITY_COLORS", "headless"]
