"""City-scale 3D Tiles: a tileset skeleton from the store's index, then each tile on its own.

The whole-layer build (:func:`tiles.tileset.build_layer`) reads, meshes and georeferences every feature
before it writes a tile: memory and the first answer grow with the city.  Here:

1. **Skeleton** (:func:`skeleton`): one scan of the collection's index (:meth:`Store.feature_index`: row
   keys, exact 3-D boxes, document sizes; no document is parsed) gives the quadtree, every tile's
   bounding region (the geodetic extent of its features' boxes, padded by 1e-8 rad, about 6 cm) and
   geometric errors, so ``tileset.json`` is ready in a fraction of a second.  A feature's prominence is
   the smaller of its box's diagonal and the square root of its box's surface; its vertex count is
   estimated on the high side (:func:`estimate_vertices`: from its stored sizes, calibrated on a few
   hundred documents) so that tiles keep within :class:`~tiles.tileset.Budget`.
2. **Tiles** (:func:`build_tile`): a tile's documents fetched by row key (:meth:`Store.feature_docs`),
   parsed as plain JSON (no model validation), meshed by :func:`cim.mesh.building_meshes_docs` (the same
   mesh as the model path), georeferenced and encoded: memory follows the tile, not the city.
3. :func:`build_streamed` writes every tile, in parallel processes with ``jobs`` > 1 (each opens the
   store itself; the parent only writes what they return), then ``tileset.json``.

A tile holds exactly the features the skeleton gave it: every feature of the layer is in one tile.
Feature meshes equal those of :func:`cim.mesh.feature_meshes` (vertices and faces exactly; normals to
float32 rounding: they are turned into the ENU frame with the Jacobian at the centre of the layer's
box).  Only ``buildings`` is tiled this way (:data:`STREAMED`); other layers use the whole-layer build.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson

from cim.mesh import building_meshes_docs
from cim.model import Building

from .frame import CityFrame
from .gltf import FeatureTable
from .layers import Attr, Layer, _collections, layer
from .sink import Sink
from .tileset import Budget, Tile, TilesetResult, _encode_tile, _geodetic_radians, layer_document, quadtree

#: layers tiled from the index, tile by tile
STREAMED = frozenset({"buildings"})
#: radians added around a tile's region (box corners to geodetic: a straight edge may bow by a few mm)
PAD = 1e-8
SAMPLE = 128  # documents read to learn a collection's vertices per stored byte
#: document members a tile does not draw (every LOD as imported: most of a 3D BAG building's bytes)
UNDRAWN = ("lods",)
Progress = Callable[[str, float], None]


@dataclass
class Skeleton:
    """A layer's tree before any content: ``fids`` (k,) row keys in fid order; tiles by address, each
    ``content`` indices into ``fids``; ``tileset`` the document; ``centre`` (3,) city metres (normals)."""

    layer: Layer
    collection: str
    fids: np.ndarray
    root: Tile
    tiles: dict[str, Tile]
    tileset: dict[str, Any]
    frame: CityFrame
    centre: np.ndarray
    prefix: str

    def content_paths(self) -> list[str]:
        """Content URIs, in tree order (parents first)."""
        return [f"{self.prefix}{t.address}.glb" for t in self.root.walk() if t.has_content]

    def address(self, path: str) -> str | None:
        """The tile address of a content URI, or None when the tileset has no such content."""
        if not path.startswith(self.prefix) or not path.endswith(".glb"):
            return None
        a = path[len(self.prefix) : -4]
        t = self.tiles.get(a)
        return a if t is not None and t.has_content else None


def doc_vertices(d: dict[str, Any]) -> int:
    """A building document's mesh vertices, on the high side: its surfaces' ring points, else six per
    outline point (an LOD1 prism: top, bottom and four per wall)."""
    surfaces = d.get("surfaces")
    if surfaces:
        return sum(len(r) for srf in surfaces for r in srf["rings"])
    return 6 * sum(len(r) for r in d["footprint"])


def estimate_vertices(store: Any, collection: str, ix: Any) -> np.ndarray:
    """Mesh vertices per feature (k,), estimated on the high side without reading every document: LOD1
    from the 2-D WKB's size, LOD2 from the document's size times the most vertices per byte among up to
    :data:`SAMPLE` documents spread over the collection (read and counted)."""
    k = len(ix.fids)
    lod1 = 6 * (np.maximum(ix.geom_bytes - 9, 16) // 16)
    pick = np.unique(np.linspace(0, k - 1, min(k, SAMPLE)).astype(np.int64))
    raw = store.feature_docs(collection, ix.fids[pick], without=UNDRAWN)
    enabled = gc.isenabled()
    gc.disable()  # see build_tile
    try:
        docs = [orjson.loads(d) for d in raw]
    finally:
        if enabled:
            gc.enable()
    lod2 = [i for i, d in enumerate(docs) if d.get("surfaces")]
    if not lod2:
        return lod1.astype(np.int64)
    per_byte = max(doc_vertices(docs[i]) / max(int(ix.doc_bytes[pick[i]]), 1) for i in lod2)
    return np.maximum(lod1, np.ceil(ix.doc_bytes * per_byte)).astype(np.int64)


def box_prominence(boxes: np.ndarray) -> np.ndarray:
    """How large each feature looks, metres: the smaller of its box's diagonal and the square root of
    the box's surface.  boxes : (k, 6) minx, miny, minz, maxx, maxy, maxz."""
    d = np.maximum(boxes[:, 3:] - boxes[:, :3], 0)
    diag = np.linalg.norm(d, axis=1)
    surface = 2 * (d[:, 0] * d[:, 1] + d[:, 0] * d[:, 2] + d[:, 1] * d[:, 2])
    return np.minimum(diag, np.sqrt(surface))


def _box_regions(frame: CityFrame, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per feature (lon, lat radians, h) lows and highs (k, 3) of its box's corners, padded."""
    k = len(boxes)
    corners = np.empty((k, 4, 3))
    corners[:, :, 0] = boxes[:, [0, 3, 3, 0]]
    corners[:, :, 1] = boxes[:, [1, 1, 4, 4]]
    corners[:, :, 2] = boxes[:, [2]]
    _, rad = _geodetic_radians(frame, corners.reshape(-1, 3))
    rad = rad.reshape(k, 4, 3)
    lo, hi = rad.min(axis=1), rad.max(axis=1)
    lo[:, :2] -= PAD
    hi[:, :2] += PAD
    lo[:, 2] = boxes[:, 2]
    hi[:, 2] = boxes[:, 5]
    return lo, hi


def _regions(root: Tile, flo: np.ndarray, fhi: np.ndarray) -> None:
    for c in root.children:
        _regions(c, flo, fhi)
    los = [flo[root.content].min(axis=0)] if root.has_content else []
    his = [fhi[root.content].max(axis=0)] if root.has_content else []
    for c in root.children:
        los.append(c.region[[0, 1, 4]])  # type: ignore[index]
        his.append(c.region[[2, 3, 5]])  # type: ignore[index]
    lo, hi = np.min(los, axis=0), np.max(his, axis=0)
    root.region = np.array([lo[0], lo[1], hi[0], hi[1], lo[2], hi[2]])


def skeleton(
    store: Any,
    name: str,
    frame: CityFrame,
    *,
    budget: Budget = Budget(),
    prefix: str = "",
    extras: dict[str, Any] | None = None,
) -> Skeleton:
    """The layer's tileset from the store's index alone (see the module docstring)."""
    from .tileset import _empty_root

    lay = layer(name)
    if name not in STREAMED:
        raise ValueError(f"layer {name!r} is not tiled from the index; these are: {', '.join(sorted(STREAMED))}")
    (cid,) = lay.collections
    ix = store.feature_index(cid)
    k = len(ix.fids)
    base_extras = {"budget": {"max_features": budget.max_features, "max_vertices": budget.max_vertices}}
    if k == 0:
        root = _empty_root(frame)
        doc = layer_document(lay, root, frame, prefix, 0.0, 0, {**base_extras, **(extras or {})})
        return Skeleton(lay, cid, ix.fids, root, {"0": root}, doc, frame, np.zeros(3), prefix)
    boxes = ix.boxes
    centres = (boxes[:, :2] + boxes[:, 3:5]) / 2
    prominence = box_prominence(boxes)
    verts = estimate_vertices(store, cid, ix)
    x0, y0 = boxes[:, 0].min(), boxes[:, 1].min()
    x1, y1 = boxes[:, 3].max(), boxes[:, 4].max()
    side = max(x1 - x0, y1 - y0)
    root = quadtree(centres, verts, prominence, (x0, y0, x0 + side, y0 + side), budget)
    flo, fhi = _box_regions(frame, boxes)
    _regions(root, flo, fhi)
    tiles = {t.address: t for t in root.walk()}
    centre = (boxes[:, :3].min(axis=0) + boxes[:, 3:].max(axis=0)) / 2
    doc = layer_document(lay, root, frame, prefix, float(prominence.max()), k, {**base_extras, **(extras or {})})
    return Skeleton(lay, cid, ix.fids, root, tiles, doc, frame, centre, prefix)


_DEFAULTS = {n: (None if f.is_required() else f.get_default()) for n, f in Building.model_fields.items()}


class _Doc:
    """A stored document seen as a feature's attributes (the model's defaults where it says nothing)."""

    __slots__ = ("d",)

    def __init__(self, d: dict[str, Any]) -> None:
        self.d = d

    def __getattr__(self, name: str) -> Any:
        return self.d[name] if name in self.d else _DEFAULTS.get(name)


def doc_table(lay: Layer, cid: str, docs: list[dict[str, Any]]) -> FeatureTable:
    """The layer's property table of stored documents (as :meth:`Layer.table` of their models)."""
    from .gltf import Column

    cols = []
    rows: list[_Doc] | None = None
    for c in lay.columns:
        if c.values is _collections:
            vals: list[Any] = [cid] * len(docs)
        elif isinstance(c.values, Attr):  # stored values are plain already (enums as their values)
            name, default = c.values.name, _DEFAULTS.get(c.values.name)
            vals = [d.get(name, default) for d in docs]
        else:
            rows = rows or [_Doc(d) for d in docs]
            vals = list(c.values(rows, None))
        arr = np.empty(len(vals), dtype=object)
        arr[:] = vals
        cols.append(Column(c.name, c.kind, arr, c.description))
    return FeatureTable(lay.class_name, cols, lay.title)


def build_tile(store: Any, skel: Skeleton, address: str) -> tuple[bytes, int]:
    """One tile's GLB and its feature count: its documents read by row key, meshed, encoded (the cyclic
    garbage collector paused meanwhile: it would rescan the parsed documents again and again)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _build_tile(store, skel, address)
    finally:
        if enabled:
            gc.enable()


def _build_tile(store: Any, skel: Skeleton, address: str) -> tuple[bytes, int]:
    t = skel.tiles[address]
    raw = store.feature_docs(skel.collection, skel.fids[t.content], without=UNDRAWN)
    docs = [orjson.loads(d) for d in raw]
    mesh = building_meshes_docs(docs)
    has = np.bincount(mesh.feature, minlength=len(docs)) > 0
    if not has.all():  # a feature without a solid draws nothing and has no row
        keep = np.flatnonzero(has)
        mesh = mesh.subset(keep)
        docs = [docs[i] for i in keep]
    table = doc_table(skel.layer, skel.collection, docs)
    frame = skel.frame
    enu = frame.to_enu(mesh.vertices, _geodetic_shared(frame, mesh.vertices))
    normals = frame.rotate_normals(mesh.normals, skel.centre)
    data = _encode_tile(mesh, enu, normals, table, np.arange(len(docs)), f"{skel.layer.name} {address}")
    return data, len(docs)


def _geodetic_shared(frame: CityFrame, xyz: np.ndarray) -> np.ndarray:
    """(n, 3) city coordinates -> longitude, latitude (degrees), height, projecting each distinct (x, y)
    once (a wall's corners share theirs with the roof and the ground: LOD2 meshes repeat them ~5x)."""
    from cim.crs import city_to_lonlat

    if len(xyz) == 0:
        return np.zeros((0, 3))
    xy = np.ascontiguousarray(xyz[:, :2])
    # as complex numbers: a numeric sort, about twice as fast as the bytes of a void view
    u, inv = np.unique(xy.view(np.complex128).ravel(), return_inverse=True)
    ll = city_to_lonlat(np.column_stack([u.real, u.imag]), frame.epsg)[inv.ravel()]
    return np.column_stack([ll, xyz[:, 2]])


# -- parallel builds ---------------------------------------------------------------------------
_worker: dict[str, Any] = {}


def _init_worker(store_url: str, skel: Skeleton) -> None:
    from cim.store import open_store

    _worker["store"] = open_store(store_url)
    _worker["skel"] = skel


def _work(address: str) -> tuple[str, bytes, int]:
    data, n = build_tile(_worker["store"], _worker["skel"], address)
    return address, data, n


def iter_tiles(
    store: Any, skel: Skeleton, *, jobs: int = 1, store_url: str | None = None
) -> Iterator[tuple[str, bytes, int]]:
    """(address, GLB, features) of every tile with content; ``jobs`` > 1: that many processes, each
    with its own connection to ``store_url`` (default ``store.url``), tiles handed out one at a time."""
    addresses = [t.address for t in skel.root.walk() if t.has_content]
    if jobs <= 1 or len(addresses) <= 1:
        for a in addresses:
            data, n = build_tile(store, skel, a)
            yield a, data, n
        return
    import multiprocessing as mp

    ctx = mp.get_context("fork" if os.name == "posix" else "spawn")
    # the largest tiles first, so that no process is left with a big one at the end
    order = sorted(addresses, key=lambda a: -len(skel.tiles[a].content))
    with ProcessPoolExecutor(
        max_workers=min(jobs, len(addresses)),
        mp_context=ctx,
        initializer=_init_worker,
        initargs=(store_url or store.url, skel),
    ) as pool:
        yield from pool.map(_work, order, chunksize=1)


def build_streamed(
    store: Any,
    name: str,
    sink: Sink,
    frame: CityFrame,
    *,
    budget: Budget = Budget(),
    prefix: str = "",
    extras: dict[str, Any] | None = None,
    jobs: int = 1,
    store_url: str | None = None,
    progress: Progress | None = None,
) -> TilesetResult:
    """Every tile of a streamed layer into ``sink``, then ``tileset.json`` (a reader that finds it finds
    every tile it names)."""
    report = progress or (lambda stage, f: None)
    report(f"{name}: index", 0.0)
    skel = skeleton(store, name, frame, budget=budget, prefix=prefix, extras=extras)
    total = sum(1 for t in skel.root.walk() if t.has_content)
    sizes: list[tuple[int, int]] = []
    for i, (address, data, n) in enumerate(iter_tiles(store, skel, jobs=jobs, store_url=store_url)):
        sink.write(f"{prefix}{address}.glb", data)
        sizes.append((len(data), n))
        report(f"{name}: tiles", (i + 1) / max(total, 1))
    body = orjson.dumps(skel.tileset)
    sink.write("tileset.json", body)
    return TilesetResult(
        name,
        skel.tileset,
        len(skel.fids),
        total,
        sum(s for s, _ in sizes) + len(body),
        max((s for s, _ in sizes), default=0),
        max((n for _, n in sizes), default=0),
        max(t.level for t in skel.root.walk()),
    )
