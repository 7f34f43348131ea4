"""3D Tiles 1.1 tilesets of a city's layers: an explicit quadtree of GLB tiles under one tileset.json.

Feature layers (buildings, pipes, underground structures) use additive refinement with the most
prominent features high in the tree: a tile over the budget (:class:`Budget`: at most 2,000 features
and 30,000 vertices, about 1 MB of GLB) keeps the largest features of its area (a quarter of the
budget, by the smaller of a feature's 3-D diagonal and the square root of its surface area) and hands
the rest to its four quadrants.  A tile's
geometric error is the size of the largest feature it leaves to its descendants (metres), so a tower
shows from afar and a shed only close up; leaves have error 0, and the error shrinks by at least a
quarter at every level.  Terrain uses replacement refinement: the root is the DEM at every 2^L-th node,
each level halves the step in four quadrants, down to the full grid; its error is the largest
vertical difference between a tile's surface and the full-resolution DEM under it.

Bounding volumes are regions (EPSG:4979 radians and ellipsoidal metres) computed from the vertices of
the tile's content and of its children, so a child's region always lies inside its parent's.  The root
carries the ENU-to-ECEF transform of the city's frame (:mod:`tiles.frame`); each GLB places its
vertices relative to its own centre (a node translation), so float32 positions are exact to well
under a millimetre.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cim.mesh import Mesh, feature_meshes, terrain_mesh
from cim.terrain import Terrain

from .frame import CityFrame, yup
from .gltf import FeatureTable, encode_glb
from .layers import Layer, layer
from .sink import Sink

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class Budget:
    """Limits of one tile: features, vertices; the share a parent keeps; the deepest level."""

    max_features: int = 2000
    max_vertices: int = 30_000
    parent_share: float = 0.25
    max_depth: int = 20
    terrain_cells: int = 64  # grid cells along a terrain tile's side


@dataclass
class Tile:
    """One tile of the tree: ``address`` ("0", "0-3", ...), the features it draws, its children."""

    address: str
    level: int
    content: np.ndarray
    children: list[Tile] = field(default_factory=list)
    geometric_error: float = 0.0
    region: np.ndarray | None = None  # west, south, east, north (radians), min h, max h (m)
    window: tuple[int, int, int, int, int] | None = None  # terrain: i0, j0, i1, j1, step

    def walk(self) -> Iterator[Tile]:
        yield self
        for c in self.children:
            yield from c.walk()

    @property
    def has_content(self) -> bool:
        return len(self.content) > 0


@dataclass
class TilesetResult:
    """What a build wrote: the tileset document and figures about it."""

    layer: str
    tileset: dict[str, Any]
    features: int
    tiles: int
    bytes: int
    max_tile_bytes: int
    max_tile_features: int
    depth: int


def quadtree(
    centres: np.ndarray,
    vertices: np.ndarray,
    prominence: np.ndarray,
    box: tuple[float, float, float, float],
    budget: Budget,
) -> Tile:
    """The additive quadtree of features: centres (k, 2) metres, vertex counts (k,), prominence (k,) metres."""

    def node(
        idx: np.ndarray, bx: tuple[float, float, float, float], level: int, address: str, parent_error: float | None
    ) -> Tile:
        if (
            (len(idx) <= budget.max_features and vertices[idx].sum() <= budget.max_vertices)
            or level >= budget.max_depth
            or len(idx) == 1
        ):
            return Tile(address, level, idx)
        order = idx[np.argsort(-prominence[idx], kind="stable")]
        by_vertices = int(
            np.searchsorted(np.cumsum(vertices[order]), budget.max_vertices * budget.parent_share, side="right")
        )
        take = min(int(budget.max_features * budget.parent_share), by_vertices)
        content, rest = order[:take], order[take:]
        error = max(float(prominence[rest].max()), 0.01)
        if parent_error is not None:
            error = min(error, 0.75 * parent_error)
        x0, y0, x1, y1 = bx
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        quad = (centres[rest, 0] >= cx).astype(int) + 2 * (centres[rest, 1] >= cy)
        children = []
        for q in range(4):
            sub = rest[quad == q]
            if len(sub):
                cb = (cx if q & 1 else x0, cy if q & 2 else y0, x1 if q & 1 else cx, y1 if q & 2 else cy)
                children.append(node(np.sort(sub), cb, level + 1, f"{address}-{q}", error))
        return Tile(address, level, np.sort(content), children, error)

    return node(np.arange(len(centres)), box, 0, "0", None)


def _per_feature(values: np.ndarray, feature: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature (min (k, d), max (k, d)) of vertex values (n, d); NaN rows for features without vertices."""
    order = np.argsort(feature, kind="stable")
    f = feature[order]
    starts = np.searchsorted(f, np.arange(k))
    has = np.bincount(feature, minlength=k) > 0
    lo = np.full((k, values.shape[1]), np.nan)
    hi = np.full((k, values.shape[1]), np.nan)
    if len(order):
        v = values[order]
        s = starts[has]
        lo[has] = np.minimum.reduceat(v, s)
        hi[has] = np.maximum.reduceat(v, s)
    return lo, hi


def _prominence(mesh: Mesh, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """How large each feature looks, metres: the smaller of its 3-D box's diagonal and the square root of
    its surface area (so a long thin pipe counts by its area, not by the length of its box)."""
    v = mesh.vertices[mesh.faces]
    area = np.linalg.norm(np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]), axis=1) / 2
    per = np.bincount(mesh.feature[mesh.faces[:, 0]], weights=area, minlength=len(mesh.ids))
    diag = np.nan_to_num(np.linalg.norm(hi - lo, axis=1))
    return np.minimum(diag, np.sqrt(per))


def _regions(root: Tile, flo: np.ndarray, fhi: np.ndarray) -> None:
    """Fill each tile's region: its content's (lon, lat radians; h) extent united with its children's."""
    for c in root.children:
        _regions(c, flo, fhi)
    parts_lo = [flo[root.content]] if root.has_content else []
    parts_hi = [fhi[root.content]] if root.has_content else []
    for c in root.children:
        parts_lo.append(c.region[[0, 1, 4]][None, :])  # type: ignore[index]
        parts_hi.append(c.region[[2, 3, 5]][None, :])  # type: ignore[index]
    lo = np.nanmin(np.concatenate(parts_lo), axis=0)
    hi = np.nanmax(np.concatenate(parts_hi), axis=0)
    root.region = np.array([lo[0], lo[1], hi[0], hi[1], lo[2], hi[2]])


def _tile_json(t: Tile, prefix: str) -> dict[str, Any]:
    d: dict[str, Any] = {
        "boundingVolume": {"region": [float(v) for v in t.region]},  # type: ignore[union-attr]
        "geometricError": float(round(t.geometric_error, 4)),
    }
    if t.has_content:
        d["content"] = {"uri": f"{prefix}{t.address}.glb"}
    if t.children:
        d["children"] = [_tile_json(c, prefix) for c in t.children]
    return d


def tile_paths(tileset: dict[str, Any]) -> list[str]:
    """Every content URI of a tileset document."""
    out: list[str] = []

    def visit(t: dict[str, Any]) -> None:
        if "content" in t:
            out.append(t["content"]["uri"])
        for c in t.get("children", []):
            visit(c)

    visit(tileset["root"])
    return out


def _encode_tile(
    mesh: Mesh, enu: np.ndarray, normals_enu: np.ndarray, table: FeatureTable | None, rows: np.ndarray, name: str
) -> bytes:
    # column by column: a reduction along axis 0 of an (n, 3) array is ~30x slower than three strided ones
    lo = np.array([enu[:, k].min() for k in range(3)])
    hi = np.array([enu[:, k].max() for k in range(3)])
    centre = np.round((lo + hi) / 2, 3)
    return encode_glb(
        yup(enu - centre),
        mesh.faces,
        normals=yup(normals_enu),
        colors=mesh.colors,
        feature=mesh.feature if table is not None else None,
        table=table.take(rows) if table is not None else None,
        translation=yup(centre[None, :])[0],
        name=name,
    )


def _geodetic_radians(frame: CityFrame, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    g = frame.geodetic(xyz)
    rad = np.column_stack([np.radians(g[:, 0]), np.radians(g[:, 1]), g[:, 2]])
    return g, rad


def _extent(region: np.ndarray) -> float:
    """The diagonal of a region, metres (spherical approximation)."""
    r = 6_371_000.0
    dx = (region[2] - region[0]) * r * np.cos((region[1] + region[3]) / 2)
    dy = (region[3] - region[1]) * r
    return float(np.sqrt(dx * dx + dy * dy + (region[5] - region[4]) ** 2))


def _document(
    root: Tile, frame: CityFrame, prefix: str, refine: str, top_error: float, extras: dict[str, Any]
) -> dict[str, Any]:
    """The tileset document.  Its own geometric error (of drawing nothing) is at least the layer's
    extent: clients skip a tileset whose error looks smaller than their threshold, and a layer should
    show from as far as it can be seen."""
    rj = _tile_json(root, prefix)
    rj["refine"] = refine
    rj["transform"] = frame.enu.matrix()
    top = max(top_error, root.geometric_error, _extent(root.region))  # type: ignore[arg-type]
    return {
        "asset": {"version": "1.1", "generator": "cim-service tiles"},
        "geometricError": float(round(top, 4)),
        "root": rj,
        "extras": extras,
    }


def layer_document(
    lay: Layer, root: Tile, frame: CityFrame, prefix: str, top_error: float, features: int, extras: dict[str, Any]
) -> dict[str, Any]:
    """A layer's tileset document: :func:`_document` with the layer, its feature count, CRS and origin in
    ``extras`` (besides the caller's)."""
    return _document(
        root,
        frame,
        prefix,
        lay.refine,
        top_error,
        {
            "layer": lay.name,
            "title": lay.title,
            "features": features,
            "crs": f"EPSG:{frame.epsg}",
            "heights": "city datum heights written as ellipsoidal heights (no geoid model)",
            "origin": {"lon": frame.enu.lon, "lat": frame.enu.lat, "height": frame.enu.height},
            **extras,
        },
    )


def _empty_root(frame: CityFrame) -> Tile:
    lon, lat = np.radians(frame.enu.lon), np.radians(frame.enu.lat)
    t = Tile("0", 0, np.zeros(0, np.int64))
    t.region = np.array([lon - 1e-6, lat - 1e-6, lon + 1e-6, lat + 1e-6, frame.enu.height, frame.enu.height])
    return t


def _finish(
    lay: Layer,
    root: Tile,
    frame: CityFrame,
    sink: Sink,
    prefix: str,
    top_error: float,
    features: int,
    sizes: list[tuple[int, int]],
    extras: dict[str, Any],
) -> TilesetResult:
    doc = layer_document(lay, root, frame, prefix, top_error, features, extras)
    body = json.dumps(doc, separators=(",", ":")).encode()
    sink.write("tileset.json", body)
    tiles = list(root.walk())
    return TilesetResult(
        lay.name,
        doc,
        features,
        sum(1 for t in tiles if t.has_content),
        sum(s for s, _ in sizes) + len(body),
        max((s for s, _ in sizes), default=0),
        max((n for _, n in sizes), default=0),
        max(t.level for t in tiles),
    )


def write_feature_tileset(
    lay: Layer,
    mesh: Mesh,
    table: FeatureTable,
    frame: CityFrame,
    sink: Sink,
    *,
    budget: Budget = Budget(),
    prefix: str = "",
    progress: Progress | None = None,
    extras: dict[str, Any] | None = None,
) -> TilesetResult:
    """Tile the features of ``mesh`` (property rows in ``table``, same order) into ``sink``:
    ``tileset.json`` and ``{prefix}{address}.glb``."""
    report = progress or (lambda stage, f: None)
    k = len(mesh.ids)
    if mesh.is_empty:
        return _finish(lay, _empty_root(frame), frame, sink, prefix, 0.0, 0, [], extras or {})
    report(f"{lay.name}: georeferencing", 0.3)
    geo, rad = _geodetic_radians(frame, mesh.vertices)
    enu = frame.to_enu(mesh.vertices, geo)
    centre_city = (mesh.vertices.min(axis=0) + mesh.vertices.max(axis=0)) / 2
    normals = frame.rotate_normals(mesh.normals, centre_city)
    flo, fhi = _per_feature(rad, mesh.feature, k)
    clo, chi = _per_feature(mesh.vertices, mesh.feature, k)
    nverts = np.bincount(mesh.feature, minlength=k)
    has = nverts > 0
    report(f"{lay.name}: tiling", 0.45)
    keep = np.flatnonzero(has)
    centres = (clo[keep, :2] + chi[keep, :2]) / 2
    prominence = _prominence(mesh, clo, chi)[keep]
    x0, y0 = clo[keep, :2].min(axis=0)
    x1, y1 = chi[keep, :2].max(axis=0)
    side = max(x1 - x0, y1 - y0)
    root = quadtree(centres, nverts[keep], prominence, (x0, y0, x0 + side, y0 + side), budget)
    tiles = list(root.walk())
    for t in tiles:  # tree indices -> feature indices
        t.content = keep[t.content]
    _regions(root, flo, fhi)
    group = np.full(k, -1, np.int64)
    for i, t in enumerate(tiles):
        group[t.content] = i
    work = Mesh(enu, mesh.faces, normals, mesh.colors, mesh.feature, mesh.ids)
    parts = work.split(group, len(tiles))
    sizes = []
    for i, (t, part) in enumerate(zip(tiles, parts, strict=True)):
        if not t.has_content:
            continue
        data = _encode_tile(part, part.vertices, part.normals, table, t.content, f"{lay.name} {t.address}")
        sink.write(f"{prefix}{t.address}.glb", data)
        sizes.append((len(data), len(t.content)))
        report(f"{lay.name}: writing tiles", 0.5 + 0.5 * (i + 1) / len(tiles))
    return _finish(
        lay,
        root,
        frame,
        sink,
        prefix,
        float(prominence.max()),
        int(has.sum()),
        sizes,
        {"budget": {"max_features": budget.max_features, "max_vertices": budget.max_vertices}, **(extras or {})},
    )


def _interp_error(terrain: Terrain, window: tuple[int, int, int, int], rows: np.ndarray, cols: np.ndarray) -> float:
    """Largest |full DEM - bilinear surface through the kept nodes| in a window, metres."""
    i0, j0, i1, j1 = window
    full = terrain.z[j0 : j1 + 1, i0 : i1 + 1].astype(float)
    coarse = terrain.z[np.ix_(rows, cols)].astype(float)

    def weights(kept: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        f = np.arange(lo, hi + 1)
        k = np.clip(np.searchsorted(kept, f, side="right") - 1, 0, len(kept) - 2)
        return k, (f - kept[k]) / (kept[k + 1] - kept[k])

    kc, tc = weights(cols, i0, i1)
    kr, tr = weights(rows, j0, j1)
    along = coarse[:, kc] * (1 - tc) + coarse[:, kc + 1] * tc
    surf = along[kr, :] * (1 - tr)[:, None] + along[kr + 1, :] * tr[:, None]
    d = np.abs(full - surf)
    return float(np.nanmax(d)) if np.isfinite(d).any() else 0.0


def _halves(lo: int, hi: int, step: int) -> list[tuple[int, int]]:
    """A window's index range split at a multiple of ``step`` (whole when under two steps)."""
    if hi - lo < 2 * step:
        return [(lo, hi)]
    mid = lo + ((hi - lo) // (2 * step)) * step
    return [(lo, mid), (mid, hi)]


def terrain_tree(terrain: Terrain, cells: int = 64) -> Tile:
    """The replacement quadtree of DEM windows: each tile ``window`` = (i0, j0, i1, j1, step)."""
    ny, nx = terrain.shape
    step = 1
    while max(nx - 1, ny - 1) / step > cells:
        step *= 2

    def node(i0: int, j0: int, i1: int, j1: int, s: int, level: int, address: str) -> Tile:
        t = Tile(address, level, np.zeros(1, np.int64), window=(i0, j0, i1, j1, s))
        if s == 1:
            return t
        xs, ys = _halves(i0, i1, s), _halves(j0, j1, s)
        q = 0
        for a, b in ys:
            for c, d in xs:
                t.children.append(node(c, a, d, b, s // 2, level + 1, f"{address}-{q}"))
                q += 1
        return t

    return node(0, 0, nx - 1, ny - 1, step, 0, "0")


def write_terrain_tileset(
    lay: Layer,
    terrain: Terrain | None,
    frame: CityFrame,
    sink: Sink,
    *,
    budget: Budget = Budget(),
    prefix: str = "",
    progress: Progress | None = None,
    extras: dict[str, Any] | None = None,
) -> TilesetResult:
    """Tile the DEM into ``sink`` (levels of detail by grid step; one 'terrain' feature per tile)."""
    report = progress or (lambda stage, f: None)
    if terrain is None:
        return _finish(lay, _empty_root(frame), frame, sink, prefix, 0.0, 0, [], extras or {})
    root = terrain_tree(terrain, budget.terrain_cells)
    tiles = list(root.walk())
    zrange = (float(np.nanmin(terrain.z)), float(np.nanmax(terrain.z)))
    table = lay.table([None])
    sizes = []
    for n, t in enumerate(tiles):
        i0, j0, i1, j1, s = t.window  # type: ignore[misc]
        mesh = terrain_mesh(terrain, s, (i0, j0, i1, j1), zrange)
        if mesh.is_empty:
            t.content = np.zeros(0, np.int64)
            t.region = None
            continue
        geo, rad = _geodetic_radians(frame, mesh.vertices)
        enu = frame.to_enu(mesh.vertices, geo)
        lo, hi = rad.min(axis=0), rad.max(axis=0)
        t.region = np.array([lo[0], lo[1], hi[0], hi[1], lo[2], hi[2]])
        normals = frame.rotate_normals(mesh.normals, mesh.vertices.mean(axis=0))
        data = _encode_tile(mesh, enu, normals, table, np.zeros(1, np.int64), f"terrain {t.address}")
        sink.write(f"{prefix}{t.address}.glb", data)
        sizes.append((len(data), 1))
        cols = np.unique(np.append(np.arange(i0, i1, s), i1))
        rows = np.unique(np.append(np.arange(j0, j1, s), j1))
        t.geometric_error = 0.0 if s == 1 else _interp_error(terrain, (i0, j0, i1, j1), rows, cols)
        report("terrain: writing tiles", (n + 1) / len(tiles))

    def settle(t: Tile) -> None:
        """Drop empty tiles, unite regions, make errors strictly shrink downwards."""
        t.children = [c for c in t.children if c.region is not None or c.children]
        for c in t.children:
            settle(c)
        t.children = [c for c in t.children if c.region is not None]
        regions = [r for r in [t.region, *(c.region for c in t.children)] if r is not None]
        if regions:
            r = np.array(regions)
            t.region = np.array(
                [r[:, 0].min(), r[:, 1].min(), r[:, 2].max(), r[:, 3].max(), r[:, 4].min(), r[:, 5].max()]
            )
        if t.children:
            floor = 0.01 * (t.window[4] if t.window else 1) * terrain.cell
            t.geometric_error = max(t.geometric_error, 1.5 * max(c.geometric_error for c in t.children), floor)

    settle(root)
    relief = zrange[1] - zrange[0]
    return _finish(
        lay,
        root,
        frame,
        sink,
        prefix,
        max(relief, 2 * root.geometric_error),
        1,
        sizes,
        {"grid": {"cells": list(terrain.shape), "cell": terrain.cell}, **(extras or {})},
    )


def city_frame(store: Any) -> CityFrame:
    """The ENU frame at the centre of everything the store holds (all layers of a city share it)."""
    boxes = [
        b
        for b in (store.bounds(c) for c in ("buildings", "pipes", "pipe-nodes", "underground-structures"))
        if b is not None
    ]
    terrain = store.terrain()
    if terrain is not None:
        boxes.append(terrain.bounds)
    epsg = store.city().crs_epsg
    if not boxes:
        return CityFrame.around((0, 0, 0, 0, 0, 0), epsg)
    b = np.array(boxes, dtype=float)
    return CityFrame.around(
        (
            b[:, 0].min(),
            b[:, 1].min(),
            float(np.nanmin(b[:, 2])),
            b[:, 3].max(),
            b[:, 4].max(),
            float(np.nanmax(b[:, 5])),
        ),
        epsg,
    )


def build_layer(
    store: Any,
    name: str,
    sink: Sink,
    *,
    budget: Budget = Budget(),
    prefix: str = "",
    frame: CityFrame | None = None,
    progress: Progress | None = None,
    extras: dict[str, Any] | None = None,
    streamed: bool = True,
) -> TilesetResult:
    """Read a layer from a store, mesh it and write ``tileset.json`` and ``{prefix}{address}.glb`` into ``sink``.

    ``extras`` go into the tileset's ``extras`` (with the layer, its feature count, CRS and origin).
    Buildings go tile by tile from the store's index (:mod:`tiles.stream`) unless ``streamed`` is False
    (the whole layer meshed at once, as before: kept to compare against).
    """
    from .stream import STREAMED, build_streamed

    lay = layer(name)
    report = progress or (lambda stage, f: None)
    frame = frame or city_frame(store)
    if streamed and name in STREAMED and hasattr(store, "feature_index"):
        return build_streamed(store, name, sink, frame, budget=budget, prefix=prefix, extras=extras, progress=report)
    terrain = store.terrain()
    if name == "terrain":
        return write_terrain_tileset(
            lay, terrain, frame, sink, budget=budget, prefix=prefix, progress=report, extras=extras
        )
    report(f"{name}: reading", 0.0)
    feats = [f for cid in lay.collections for f in store.iter_features(cid, batch=5000)]
    report(f"{name}: meshing", 0.1)
    mesh = feature_meshes(feats)
    table = lay.table(feats, terrain)
    return write_feature_tileset(
        lay, mesh, table, frame, sink, budget=budget, prefix=prefix, progress=report, extras=extras
    )
