"""The Store protocol: the one contract every backend (SQLite, PostGIS) implements.

The contract test suite (``tests/store/test_contract.py``) runs against every backend; the
comment on each method says which route or command relies on it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
import orjson
import shapely
from pydantic import BaseModel

from ..collections import COLLECTIONS, best_lod, collection_of, get_spec
from ..encoded import Encoded
from ..errors import InvalidFeature, StoreError
from ..model import City
from ..terrain import Terrain
from ..typed import Bounds3
from .solid_columns import pack_docs

if TYPE_CHECKING:
    from ..query.cql2 import Filter


#: (blob-name prefix, n -> blobs): a numbered record written with a write (``Store.write(numbered=...)``)
Numbered = tuple[str, Callable[[int], Mapping[str, bytes]]]


def number_range(prefix: str) -> tuple[str, str]:
    """The blob names ``lo <= name < hi`` that start with ``prefix`` (an index range scan on either store)."""
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def next_number(prefix: str, greatest: str | None) -> int:
    """The number after the greatest blob name under ``prefix`` (names ``<prefix><8 digits>...``, so that the
    greatest name holds the greatest number); 1 when there is none."""
    if greatest is None:
        return 1
    digits = greatest[len(prefix) :][:8]
    if not digits.isdigit():
        raise StoreError(f"Blob {greatest!r} is not a numbered record under {prefix!r}.")
    return int(digits) + 1


@dataclass(frozen=True)
class Region:
    """A spatial filter in city coordinates (metres): a 2-D polygon and an optional z range.

    A feature matches when its 2-D geometry (footprint, centreline or point) intersects the
    polygon and, if a z range is given, its solid's vertical extent overlaps [zmin, zmax].
    """

    polygon: shapely.Geometry
    zmin: float | None = None
    zmax: float | None = None

    @classmethod
    def box(
        cls, minx: float, miny: float, maxx: float, maxy: float, zmin: float | None = None, zmax: float | None = None
    ) -> Region:
        return cls(shapely.box(minx, miny, maxx, maxy), zmin, zmax)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return tuple(self.polygon.bounds)  # type: ignore[return-value]

    def select(self, fids: np.ndarray, boxes: np.ndarray, load_geoms) -> np.ndarray:
        """Exact test of index candidates.

        ``boxes`` (n, 4) minx, miny, maxx, maxy of each candidate's solid; candidates whose box lies
        inside the polygon match at once; the others are tested on their 2-D geometry, which
        ``load_geoms(fids)`` returns as shapely geometries in the same order.  Returns the matching
        fids, sorted.
        """
        if len(fids) == 0:
            return fids
        shapely.prepare(self.polygon)
        inside = shapely.contains(self.polygon, shapely.box(boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]))
        unsure = fids[~inside]
        if len(unsure):
            geoms = np.asarray(load_geoms(unsure), dtype=object)
            hit = shapely.intersects(self.polygon, geoms)
            fids = np.concatenate([fids[inside], unsure[hit]])
        else:
            fids = fids[inside]
        return np.sort(fids)


@dataclass
class Columns:
    """Features of one collection as columns, in insertion order (:meth:`Store.columns`).

    ``ids`` (n,); ``boxes`` (n, 6) minx, miny, minz, maxx, maxy, maxz of each solid, metres ((n, 0) when not
    asked for); ``geoms`` (n,)
    their 2-D geometries (shapely, city CRS); ``fields`` each requested top-level field of the stored
    documents as (n,) JSON values (None where a document lacks it); ``solid`` (n,) each row's packed solid
    (:mod:`cim.store.solid_columns`; None for rows without one), when asked for.
    """

    ids: list[str]
    boxes: np.ndarray
    geoms: np.ndarray
    fields: dict[str, list]
    solid: list[bytes | None] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)


_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_fields(fields: Sequence[str]) -> list[str]:
    """Top-level document field names for :meth:`Store.columns` (plain identifiers: they go into the SQL)."""
    out = list(fields)
    for name in out:
        if not isinstance(name, str) or _FIELD.fullmatch(name) is None:
            raise ValueError(f"Not a document field name: {name!r}")
    return out


def json_column(texts: Sequence[str | bytes | None]) -> list:
    """A column of JSON texts (None for SQL NULL) -> their values, parsed in one call."""
    if not texts:
        return []
    return orjson.loads("[" + ",".join("null" if t is None else t for t in texts) + "]")  # type: ignore[misc]


@dataclass
class FeatureIndex:
    """A collection's features as columns, without their documents (3D Tiles skeletons), in fid order.

    fids : (k,) int64 row keys (for :meth:`Store.feature_docs`); boxes : (k, 6) float64 minx, miny, minz,
    maxx, maxy, maxz of each solid, metres, from the spatial index (SQLite's R*Tree keeps them as float32
    rounded outwards: up to 0.5 m larger at 4.6e6 m); doc_bytes : (k,) stored size of the document;
    geom_bytes : (k,) size of its 2-D geometry as WKB.
    """

    fids: np.ndarray
    boxes: np.ndarray
    doc_bytes: np.ndarray
    geom_bytes: np.ndarray

    @classmethod
    def from_rows(cls, rows: Sequence | np.ndarray) -> FeatureIndex:
        """From rows (fid, minx, miny, minz, maxx, maxy, maxz, doc_bytes, geom_bytes)."""
        a = np.array(rows, dtype=np.float64).reshape(-1, 9)
        return cls(a[:, 0].astype(np.int64), a[:, 1:7], a[:, 7].astype(np.int64), a[:, 8].astype(np.int64))


@dataclass
class Page:
    """One page of a query: the features and how many matched in all."""

    features: list[BaseModel]
    matched: int
    extra: dict = field(default_factory=dict)


@dataclass
class EncodedPage:
    """One page of a query as each feature's stored CRS84 GeoJSON bytes (``query_geojson``)."""

    features: list[bytes]
    matched: int


def points_to_bytes(points: np.ndarray) -> bytes:
    """(n, 3) float points -> compact bytes (npy)."""
    import io

    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 3))
    return buf.getvalue()


def points_from_bytes(data: bytes) -> np.ndarray:
    """Bytes written by :func:`points_to_bytes` -> (n, 3) float points."""
    import io

    return np.load(io.BytesIO(bytes(data)))


@dataclass
class Rows:
    """A collection's features ready for a backend: parallel lists (ids, JSON docs, 2-D WKB, 3-D boxes)."""

    ids: list[str]
    docs: list[bytes]
    geoms: list[bytes]
    boxes: list[Bounds3]  # minx, miny, minz, maxx, maxy, maxz of each solid, metres
    geojson: list[bytes] | None = None  # each feature's CRS84 GeoJSON Feature, as the items route writes it
    solid: list[bytes | None] | None = None  # an underground feature's solid as packed numbers (solid_columns)


def jsonb_order(value: Any) -> Any:
    """``value`` with every object's keys in PostgreSQL ``jsonb``'s order (shorter first, then by bytes): a
    document as PostGIS reads it back."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
        return {k: jsonb_order(value[k]) for k in keys}
    if isinstance(value, list):
        return [jsonb_order(v) for v in value]
    return value


_GJ_CHUNK = 250  # documents parsed at once by encode_geojson (a parsed LoD2 document is ten times its bytes)


def exact(data: bytes) -> bytes:
    """A copy of ``data`` that holds its bytes only: what ``orjson.dumps`` returns keeps its whole write buffer
    (about 8 KB for a 1 KB feature), which counts where thousands are kept for a write."""
    return memoryview(data).tobytes()


def encode_geojson(collection: str, docs: Sequence[bytes], city_epsg: int, *, jsonb: bool = False) -> list[bytes]:
    """Each stored document's GeoJSON Feature in CRS84, as bytes: exactly what ``/items`` writes for it
    (``cim.geojson.encode_features``, then orjson).  Encoded from the documents as the store reads them back
    (``jsonb``: with PostgreSQL's key order), not from the models written, so the bytes are the ones the read
    path makes; one pyproj call per 250 features."""
    from ..crs import OutputCRS
    from ..geojson import encode_features

    spec = get_spec(collection)
    out = OutputCRS(city_epsg)
    hidden = spec.hidden_fields  # not in the GeoJSON (a building's surfaces and LODs): not validated either
    result: list[bytes] = []
    for k in range(0, len(docs), _GJ_CHUNK):
        raws = [orjson.loads(d) for d in docs[k : k + _GJ_CHUNK]]
        if jsonb:
            raws = [jsonb_order(r) for r in raws]
        feats = [spec.model.model_validate({n: v for n, v in r.items() if n not in hidden}) for r in raws]
        encoded = encode_features(spec, feats, out)
        if collection == "buildings":  # its "lod" property is read from the LODs left out above
            for f, r in zip(encoded, raws, strict=True):
                f["properties"]["lod"] = best_lod(r.get("lods"), r.get("surfaces"))
        result += [exact(orjson.dumps(f, option=orjson.OPT_SERIALIZE_NUMPY)) for f in encoded]
    return result


class _Documents(Sequence[bytes]):
    """Documents of which some are zlib-compressed (``Encoded.packed``), decompressed when read: a write holds
    one at a time, not all of them."""

    def __init__(self, docs: list[bytes], packed: list[bool]) -> None:
        self._docs, self._packed = docs, packed

    def __len__(self) -> int:
        return len(self._docs)

    def __getitem__(self, k):  # type: ignore[override]
        if isinstance(k, slice):
            return [self[i] for i in range(*k.indices(len(self)))]
        return zlib.decompress(self._docs[k]) if self._packed[k] else self._docs[k]

    def __iter__(self) -> Iterator[bytes]:
        for d, p in zip(self._docs, self._packed, strict=True):
            yield zlib.decompress(d) if p else d


def stored_geojson(
    collection: str, feats: Sequence[Any], docs: Sequence[bytes], city_epsg: int, *, jsonb: bool = False
) -> list[bytes]:
    """:func:`encode_geojson` of ``docs``, taking the bytes a reader encoded already (``Encoded.gj``, for this
    city CRS) where it did: the same bytes, without validating the documents back."""
    out: list[bytes | None] = [
        f.gj if isinstance(f, Encoded) and f.gj is not None and f.gj_epsg == city_epsg else None for f in feats
    ]
    if jsonb:  # PostgreSQL reads nested objects back in jsonb's key order: the properties' values follow it
        out = [None if g is None else _jsonb_properties(g) for g in out]
    todo = [k for k, g in enumerate(out) if g is None]
    if todo:
        for k, g in zip(todo, encode_geojson(collection, [docs[k] for k in todo], city_epsg, jsonb=jsonb), strict=True):
            out[k] = g
    return out  # type: ignore[return-value]


def _jsonb_properties(gj: bytes) -> bytes:
    """A GeoJSON Feature's bytes with the objects inside its properties in ``jsonb`` key order (the properties'
    own order is the model's, as ``encode_geojson`` writes it)."""
    f = orjson.loads(gj)
    props = f["properties"]
    if not any(isinstance(v, dict | list) for v in props.values()):
        return gj
    f["properties"] = {k: jsonb_order(v) for k, v in props.items()}
    return exact(orjson.dumps(f))


def prepare_rows(
    features: Iterable[BaseModel], srid: int | None = None, city_epsg: int | None = None, *, jsonb: bool = False
) -> dict[str, Rows]:
    """Group features by collection and encode them once for any backend (an :class:`~cim.encoded.Encoded`
    feature comes encoded already).

    ``srid`` set: geometries are EWKB carrying it (PostGIS); else plain WKB.  ``city_epsg`` set: each
    feature's CRS84 GeoJSON is encoded too (:func:`encode_geojson`; ``jsonb``: the documents are stored as
    PostgreSQL jsonb).  Raises InvalidFeature naming the
    collection and feature when a geometry or a coordinate cannot be stored.
    """
    groups: dict[str, list[BaseModel]] = {cid: [] for cid in COLLECTIONS}
    for feat in features:
        try:
            groups[collection_of(feat)].append(feat)
        except KeyError:
            raise InvalidFeature(f"Not a city feature: {type(feat).__name__}") from None
    out: dict[str, Rows] = {}
    for cid, feats in groups.items():
        if not feats:
            continue
        spec = get_spec(cid)
        ids = [f.id for f in feats]  # type: ignore[attr-defined]
        docs = [
            f.doc if isinstance(f, Encoded) else exact(orjson.dumps(f.model_dump(mode="json", exclude_none=True)))
            for f in feats
        ]
        if any(isinstance(f, Encoded) and f.packed for f in feats):  # unpacked one by one as the rows are written
            docs = _Documents(docs, [isinstance(f, Encoded) and f.packed for f in feats])  # type: ignore[assignment]
        try:
            boxes = [f.box if isinstance(f, Encoded) else spec.bounds(f) for f in feats]
            shapes = np.array([f.shape if isinstance(f, Encoded) else spec.shape(f) for f in feats], dtype=object)
        except Exception as exc:  # a geometry shapely or numpy cannot take
            raise InvalidFeature(f"Bad geometry in {cid}: {exc}", where={"collection": cid}) from exc
        finite = np.isfinite(np.asarray(boxes, dtype=float)).all(axis=1)
        if not finite.all():
            bad = ids[int(np.argmin(finite))]
            raise InvalidFeature("Non-finite coordinates.", where={"collection": cid, "feature": bad})
        if srid is not None:
            shapes = shapely.set_srid(shapes, srid)
        geoms = list(shapely.to_wkb(shapes, include_srid=srid is not None))
        gj = None if city_epsg is None else stored_geojson(cid, feats, docs, city_epsg, jsonb=jsonb)
        out[cid] = Rows(ids, docs, geoms, boxes, gj, pack_docs(cid, docs))
    return out


def first_duplicate(ids: list[str], existing: Callable[[list[str]], str | None]) -> str:
    """The first id repeated within ``ids``, or else the first that ``existing(chunk)`` finds stored."""
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            return i
        seen.add(i)
    for k in range(0, len(ids), 500):
        hit = existing(ids[k : k + 500])
        if hit is not None:
            return hit
    return "?"


@runtime_checkable
class Store(Protocol):
    """A city model store.  Coordinates are metres in the city CRS (see ``cim.model``)."""

    url: str

    def init(self, city: City, *, overwrite: bool = False) -> None:
        """Create an empty city (``cim init``).  ``overwrite`` drops any existing content."""

    def city(self) -> City:
        """The city's metadata (every route).  StoreError if the store is not initialised."""

    def write(
        self,
        features: Iterable[BaseModel],
        *,
        terrain: Terrain | None = None,
        building_points: np.ndarray | None = None,
        replace: bool = False,
        blobs: Mapping[str, bytes] | None = None,
        delete: Mapping[str, Sequence[str]] | None = None,
        numbered: Numbered | None = None,
    ) -> dict[str, int]:
        """Add features, terrain (replacing any), LiDAR building points ((n, 3) metres, appended) and named
        blobs (replacing those of the same name: e.g. a hydraulic model's source) in one transaction: all
        land or none (imports, ``cim sample``).

        A duplicate id raises DuplicateFeature unless ``replace``; ``delete`` (collection -> ids) removes
        features first, in the same transaction (ids not stored are ignored); returns counts per collection.
        ``numbered`` (prefix, make): inside the transaction, under the lock that orders writes, claim the next
        number n of the blobs named ``<prefix><n:08d>...`` (:func:`next_number`) and write the blobs ``make(n)``
        too: concurrent writers get distinct, gap-free, increasing numbers (:mod:`cim.versions`).
        """

    def counts(self) -> dict[str, int]:
        """Features per collection (``cim info``, ``/collections``)."""

    def bounds(self, collection: str) -> Bounds3 | None:
        """3-D bounds of a collection's solids, or None when empty (collection extents)."""

    def query(
        self,
        collection: str,
        *,
        region: Region | None = None,
        filter: Filter | None = None,
        sortby: list[tuple[str, bool]] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Page:
        """Features matching a region and a CQL2 filter, in ``sortby`` order (then insertion order), paged
        (``/items``).  The filter runs as the backend's SQL, not as a loop over features."""

    def iter_features(
        self, collection: str, *, region: Region | None = None, filter: Filter | None = None, batch: int = 1000
    ) -> Iterator[BaseModel]:
        """Every matching feature in insertion order, streamed in batches (exports, analyses)."""

    def columns(
        self,
        collection: str,
        fields: Sequence[str] = (),
        *,
        region: Region | None = None,
        solid: bool = False,
        boxes: bool = True,
    ) -> Columns:
        """Matching features as columns (ids, 3-D boxes, 2-D geometries and the named top-level fields of their
        documents), in insertion order, read in SQL without building models (analyses over many candidates:
        underground use).  ``region`` matches as in :meth:`query`; ``solid``: each row's packed solid too (None
        in rows written before the column existed); ``boxes`` False: the boxes are not read (``Columns.boxes``
        is then (n, 0))."""

    def feature_index(self, collection: str) -> FeatureIndex:
        """Every feature's row key, 3-D box and sizes, in fid order, without reading its document."""

    def feature_docs(self, collection: str, fids: Sequence[int], *, without: Sequence[str] = ()) -> list[bytes]:
        """The stored JSON documents of the features with these row keys (sorted ascending), in that order,
        less their top-level members named in ``without`` (e.g. ``lods``: what a reader will not parse)."""

    def get(self, collection: str, fid: str) -> BaseModel:
        """One feature by id, or FeatureNotFound (``/items/{fid}``)."""

    def query_geojson(
        self,
        collection: str,
        *,
        region: Region | None = None,
        filter: Filter | None = None,
        sortby: list[tuple[str, bool]] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> EncodedPage | None:
        """``query``'s page as each feature's CRS84 GeoJSON bytes stored at write time (``/items`` in CRS84
        without projections), or None when a feature of the page was written without them (older stores)."""

    def get_geojson(self, collection: str, fid: str) -> bytes | None:
        """One feature's stored CRS84 GeoJSON bytes, None when it has none (older stores), or FeatureNotFound."""

    def terrain(self) -> Terrain | None:
        """The terrain DEM, if any (analyses, meshes)."""

    def building_points(self) -> np.ndarray | None:
        """LiDAR building-class points, (n, 3) float metres, or None (measured heights)."""

    def get_blob(self, name: str) -> bytes | None:
        """A named blob written with ``write(blobs=...)``, or None."""

    def blob_names(self, prefix: str = "") -> list[str]:
        """Names of the stored blobs that start with ``prefix``, sorted."""

    def version(self) -> int:
        """A number that grows with every write (cache keys for tiles and counts)."""

    def read_version(self) -> int:
        """The version that reads see (cache keys): ``version()``, or behind it while a read replica catches up."""

    def put_job(self, job_id: str, doc: dict) -> None:
        """Create or update an import job's status document (shared by every API worker)."""

    def update_job(self, job_id: str, doc: dict) -> bool:
        """Replace a job's document only if it is still stored (atomically); False when it is gone (a dismissed
        process job: its runner then drops what it was about to record)."""

    def delete_job(self, job_id: str) -> bool:
        """Remove a job document; False when there was none (``DELETE /jobs/{id}``)."""

    def get_job(self, job_id: str) -> dict | None:
        """An import job's status document, or None (``GET /imports/{id}``)."""

    def list_jobs(self, *, type: str | None = None, limit: int = 100, offset: int = 0) -> list[dict]:
        """Job documents whose ``type`` field equals ``type`` (any when None), newest ``created`` first, then by
        id; at most ``limit`` after skipping ``offset`` (``GET /jobs``)."""

    def integrity_check(self) -> bool:
        """True when the backend's own consistency checks pass (crash-safety tests)."""

    def close(self) -> None:
        """Release connections."""
