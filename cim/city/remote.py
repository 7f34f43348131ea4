"""A city behind a running service: the :class:`~cim.city.CityModel` interface over HTTP only.

``cim.connect("http://127.0.0.1:8000")`` talks to the service's public API and nothing else: OGC API -
Features (``/collections/{id}/items`` paged through its ``next`` links, ``/items/{id}``), the analyses
(``/analysis/underground-use``, ``/analysis/excavation``, ``/analysis/pipe-compliance``,
``/analysis/high-rise``), one feature's GLB (``/collections/{id}/items/{fid}/mesh.glb``) and the terrain's 3D
Tiles (``/3dtiles/terrain``).  Features are asked for in the city CRS (``crs=``) and read back into the
library's models, so answers are the local city's, field for field; coordinates went through GeoJSON and so
are rounded to the millimetre.  Problem answers (RFC 9457) become the library's errors
(:class:`~cim.errors.InvalidParameter` naming the parameter, :class:`~cim.errors.FeatureNotFound` ...).

Meshes for 3-D views are rebuilt from the features with :mod:`cim.mesh` (the builders the service's own
tiles use); buildings with LOD2 surfaces, which GeoJSON does not carry, come as their GLB from the service,
and the terrain from the 3D Tiles tileset (the finest level that needs at most ``max_tiles`` tiles).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import numpy as np
import orjson
import shapely
from pydantic import BaseModel

from ..analysis.compliance import ComplianceReport, Violation
from ..analysis.excavation import Excavation
from ..analysis.highrise import Proposal, ScreeningResult
from ..analysis.underground import UndergroundUse
from ..collections import COLLECTIONS, get_spec
from ..crs import _northing_first, epsg_uri, lonlat_to_city
from ..errors import (
    CIMError,
    FeatureNotFound,
    InvalidFeature,
    InvalidParameter,
    StoreError,
    UnknownCollection,
    UnsupportedCRS,
)
from ..gltf import glb_triangles as _glb_triangles
from ..model import Building
from .base import CityInfo, CityModel, Feature, Features
from .params import _flip_coords, _uri, bbox_values, official_order, proposal_payload

if TYPE_CHECKING:
    from ..mesh import Mesh

_PROPOSAL_FIELDS = ("id", "name", "height", "floors", "storey_height", "use", "new", "kind")


class RemoteError(CIMError):
    """The service could not be reached, or answered with an error the library has no class for."""

    title = "Service error"


_ERRORS: dict[str, type[CIMError]] = {
    c.title: c
    for c in (InvalidParameter, UnsupportedCRS, UnknownCollection, FeatureNotFound, InvalidFeature, StoreError)
}


def _error(status: int, body: Any, url: str) -> CIMError:
    """A problem+json answer as the library error it came from (same class, message and ``where``)."""
    if not isinstance(body, dict):
        return RemoteError(f"HTTP {status} from {url}", where={"status": status})
    cls = _ERRORS.get(str(body.get("title")), RemoteError)
    where = {k: body[k] for k in ("parameter", "collection", "feature", "file") if k in body}
    err = cls.__new__(cls)
    CIMError.__init__(err, str(body.get("detail") or body.get("title") or f"HTTP {status}"), where=where)
    if "parameter" in where:
        err.parameter = where["parameter"]  # type: ignore[attr-defined]
    if cls is RemoteError:
        err.where["status"] = status
    return err


# -- GLB and 3D Tiles, read back into city coordinates -------------------------------------------------------------
def glb_triangles(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[str, Any]]:
    """The triangles of a GLB the service sent (:func:`cim.gltf.glb_triangles`); RemoteError when it is not one."""
    try:
        return _glb_triangles(data)
    except (ValueError, KeyError, IndexError, struct.error) as exc:
        raise RemoteError(f"the service sent something that is not a GLB 2.0 ({exc})") from None


def ecef_to_city(ecef: np.ndarray, epsg: int) -> np.ndarray:
    """(n, 3) ECEF (EPSG:4978) -> (n, 3) city easting, northing and height (the service writes city datum
    heights as ellipsoidal heights, so h is the city height)."""
    from pyproj import Transformer

    t = Transformer.from_crs("EPSG:4978", "EPSG:4979", always_xy=True)
    lon, lat, h = t.transform(ecef[:, 0], ecef[:, 1], ecef[:, 2])
    return np.column_stack([lonlat_to_city(np.column_stack([lon, lat]), epsg), h])


def yup_to_city(positions: np.ndarray, enu_to_ecef: np.ndarray, epsg: int) -> np.ndarray:
    """glTF y-up local metres -> city coordinates: y-up to ENU (x, -z, y), the ENU-to-ECEF matrix (4 x 4), then
    geodetic and the city CRS."""
    enu = np.column_stack([positions[:, 0], -positions[:, 2], positions[:, 1]])
    ecef = enu @ enu_to_ecef[:3, :3].T + enu_to_ecef[:3, 3]
    return ecef_to_city(ecef, epsg)


def _mesh(
    vertices: np.ndarray, faces: np.ndarray, colors: np.ndarray | None, feature: int | np.ndarray, ids: list[str]
) -> Mesh:
    from ..mesh import Mesh

    n = len(vertices)
    return Mesh(
        vertices,
        faces.astype(np.int64),
        np.zeros((n, 3), np.float32),
        colors if colors is not None else np.full((n, 4), 200, np.uint8),
        np.broadcast_to(np.asarray(feature, np.int64), (n,)).copy(),
        ids,
    )


def _keep_features(mesh: Mesh, drop: np.ndarray) -> Mesh:
    """``mesh`` without the vertices and faces of the features ``drop``; feature indices unchanged."""
    keep = ~np.isin(mesh.feature, drop)
    remap = np.cumsum(keep) - 1
    faces = mesh.faces[keep[mesh.faces].all(axis=1)]
    return type(mesh)(
        mesh.vertices[keep], remap[faces], mesh.normals[keep], mesh.colors[keep], mesh.feature[keep], mesh.ids
    )


# -- the remote city -------------------------------------------------------------------------------------------------
class RemoteCity(CityModel):
    """A city served by a CIM service at ``url``.

    ``token``: a bearer token, for a service whose reads are protected.  ``timeout``: seconds per request
    (analyses of large regions take a while).  ``page_size``: features per page when paging through items
    (at most the service's ``CIM_MAX_LIMIT``).
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 300.0,
        page_size: int = 10_000,
        transport: Any = None,
    ) -> None:
        try:
            import httpx
        except ImportError:  # pragma: no cover - httpx is a dependency
            raise ImportError("cim.connect needs httpx: pip install httpx") from None
        self.source = url.rstrip("/")
        headers = {"Accept": "application/geo+json, application/json;q=0.9"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.source, headers=headers, timeout=timeout, transport=transport)
        self.page_size = page_size
        self._epsg: int | None = None
        self._lod2: set[str] = set()  # buildings the service says have LOD2 surfaces (GeoJSON "lod" >= 2)

    def close(self) -> None:
        self._http.close()

    # -- HTTP
    def _call(self, method: str, url: str, **kw: Any) -> Any:
        import httpx

        try:
            r = self._http.request(method, url, **kw)
        except httpx.HTTPError as exc:
            raise RemoteError(f"Cannot reach the service at {self.source}: {exc}", where={"url": url}) from None
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = None
            raise _error(r.status_code, body, str(r.url))
        return r

    def _json(self, method: str, url: str, **kw: Any) -> Any:
        return orjson.loads(self._call(method, url, **kw).content)

    def observations(self, feature_or_datastream: int | str, start: Any = None, end: Any = None) -> Any:
        """Sensor observations as a pandas DataFrame, as ``LocalCity.observations`` (through /sta/v1.1)."""
        from ..sensors import observations_frame_http

        def get(path: str, params: dict[str, Any] | None) -> Any:
            return self._json("GET", path if "://" in path else f"/sta/v1.1/{path}", params=params)

        return observations_frame_http(get, feature_or_datastream, start, end)

    @property
    def city_uri(self) -> str:
        return epsg_uri(self.crs_epsg)

    @property
    def crs_epsg(self) -> int:
        if self._epsg is None:
            crs = str(self._json("GET", "/health").get("crs", ""))
            if not crs.upper().startswith("EPSG:"):
                raise RemoteError(f"{self.source}/health names no city CRS ({crs!r}); is this a CIM service?")
            self._epsg = int(crs.split(":")[-1])
        return self._epsg

    def _flip(self) -> bool:
        return _northing_first(self.city_uri)

    def _to_xy(self, coords: Any) -> Any:
        """Coordinates in the city CRS's official axis order (as the service writes them) -> x, y order."""
        return _flip_coords(coords, self._flip())

    def _region_json(self, region: Any, crs: str | None) -> dict[str, Any]:
        poly = self.region(region, crs)
        geo = shapely.geometry.mapping(poly)
        return {"type": geo["type"], "coordinates": _flip_coords(_lists(geo["coordinates"]), self._flip())}

    def _bbox_param(self, bbox: Any, bbox_crs: str | None, params: dict[str, Any]) -> None:
        if bbox is not None:
            values, uri = bbox_values(bbox, bbox_crs, self.crs_epsg)
            params["bbox"] = ",".join(repr(float(v)) for v in values)
            params["bbox-crs"] = uri
        elif bbox_crs is not None:
            params["bbox-crs"] = _uri(bbox_crs, self.crs_epsg, "bbox-crs")

    def _pages(self, path: str, params: dict[str, Any], limit: int | None) -> tuple[list[dict[str, Any]], int]:
        """Every feature of a paged GeoJSON answer, following ``next`` links, at most ``limit``."""
        feats: list[dict[str, Any]] = []
        doc = self._json("GET", path, params=params)
        matched = int(doc.get("numberMatched", 0))
        while True:
            feats += doc.get("features", [])
            nxt = next((ln["href"] for ln in doc.get("links", []) if ln.get("rel") == "next"), None)
            if nxt is None or (limit is not None and len(feats) >= limit):
                break
            doc = self._json("GET", nxt)
        return (feats if limit is None else feats[:limit]), matched

    def _feature(self, cid: str, doc: dict[str, Any]) -> Feature:
        spec = get_spec(cid)
        props = dict(doc.get("properties") or {})
        lod = props.pop("lod", None)
        if cid == "buildings" and isinstance(lod, int | float) and lod >= 2:
            self._lod2.add(doc["id"])
        geom = doc.get("geometry") or {}
        coords = self._to_xy(geom.get("coordinates"))
        if geom.get("type") == "Polygon":
            props["footprint"] = coords
        elif geom.get("type") == "LineString":
            props["centreline"] = coords
        elif geom.get("type") == "Point":
            props["position"] = coords
        return spec.model.model_validate({"id": doc["id"], **props})  # type: ignore[return-value]

    # -- CityModel
    def info(self) -> CityInfo:
        from .base import extent_of  # noqa: F401 - documents that extents match the local computation

        health = self._json("GET", "/health")
        cols = self._json("GET", "/collections")["collections"]
        datum = next((c.get("verticalDatum") for c in cols if c.get("verticalDatum")), "")
        boxes = [c["extent"]["spatial"]["bbox"][0] for c in cols if c.get("extent")]
        extent = None
        if boxes:
            b = np.asarray(boxes, dtype=float)
            extent = [float(v) for v in (*b[:, :3].min(axis=0), *b[:, 3:].max(axis=0))]
        return CityInfo(
            name=health["city"],
            crs_epsg=int(str(health["crs"]).split(":")[-1]),
            vertical_datum=datum,
            counts=health["counts"],
            extent=extent,
            version=health["version"],
        )

    def features(
        self,
        collection: str,
        *,
        bbox: Sequence[float] | str | None = None,
        bbox_crs: str | None = None,
        filter: str | dict | None = None,
        filter_crs: str | None = None,
        sortby: str | Sequence[str] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Features:
        get_spec(collection)
        if limit is not None and limit < 1:
            raise InvalidParameter("limit", "limit must be at least 1 (None: every match).")
        if offset < 0:
            raise InvalidParameter("offset", "offset must be at least 0.")
        params: dict[str, Any] = {
            "crs": self.city_uri,
            "offset": offset,
            "limit": self.page_size if limit is None else min(limit, self.page_size),
        }
        self._bbox_param(bbox, bbox_crs, params)
        if filter is not None:
            if isinstance(filter, Mapping):
                params["filter"] = orjson.dumps(filter).decode()
                params["filter-lang"] = "cql2-json"
            else:
                params["filter"] = filter
        if filter_crs is not None:
            params["filter-crs"] = filter_crs
        if sortby:
            params["sortby"] = sortby if isinstance(sortby, str) else ",".join(sortby)
        docs, matched = self._pages(f"/collections/{quote(collection, safe='')}/items", params, limit)
        return Features(
            [self._feature(collection, d) for d in docs], collection=collection, matched=matched, crs_epsg=self.crs_epsg
        )

    def get(self, collection: str, id: str) -> Feature:
        get_spec(collection)
        doc = self._json(
            "GET",
            f"/collections/{quote(collection, safe='')}/items/{quote(id, safe='')}",
            params={"crs": self.city_uri},
        )
        return self._feature(collection, doc)

    def underground_use(
        self,
        region: Any,
        *,
        crs: str | None = None,
        bands: Sequence[Sequence[float]] | None = None,
        z_min: float | None = None,
        z_max: float | None = None,
    ) -> UndergroundUse:
        body = {
            "region": self._region_json(region, crs),
            "crs": self.city_uri,
            "bands": None if bands is None else [list(map(float, b)) for b in bands],
            "z_min": z_min,
            "z_max": z_max,
        }
        doc = self._json("POST", "/analysis/underground-use", json={k: v for k, v in body.items() if v is not None})
        return UndergroundUse.model_validate(doc)

    def excavation(
        self,
        region: Any,
        *,
        crs: str | None = None,
        depth: float | None = None,
        bottom_z: float | None = None,
        buffer: float = 1.0,
    ) -> Excavation:
        _uri(crs, self.crs_epsg, "crs")
        body = {
            "region": self._region_json(region, crs),
            "crs": self.city_uri,
            "depth": depth,
            "bottom_z": bottom_z,
            "buffer": buffer,
        }
        doc = self._json("POST", "/analysis/excavation", json={k: v for k, v in body.items() if v is not None})
        for h in doc.get("hits", []):
            h["location"] = self._to_xy(h["location"])
        return Excavation.model_validate(doc)

    def pipe_compliance(
        self, bbox: Sequence[float] | str | None = None, *, bbox_crs: str | None = None
    ) -> ComplianceReport:
        params: dict[str, Any] = {"crs": self.city_uri}
        self._bbox_param(bbox, bbox_crs, params)
        doc = self._json("GET", "/analysis/pipe-compliance", params=params)
        violations = [
            Violation.model_validate(
                {
                    "id": f["id"],
                    **f["properties"],
                    "location": {
                        "type": f["geometry"]["type"],
                        "coordinates": self._to_xy(f["geometry"]["coordinates"]),
                    },
                }
            )
            for f in doc.get("features", [])
        ]
        return ComplianceReport(
            violations=violations,
            counts=doc["counts"],
            by_rule=doc["by_rule"],
            checked=doc["checked"],
            skipped=doc.get("skipped", []),
        )

    def screen_high_rise(
        self,
        *,
        bbox: Sequence[float] | str | None = None,
        bbox_crs: str | None = None,
        verdict: str | Sequence[str] | None = None,
        min_height: float | None = None,
        profile: str | None = None,
    ) -> list[ScreeningResult]:
        params: dict[str, Any] = {"limit": self.page_size}
        self._bbox_param(bbox, bbox_crs, params)
        if verdict is not None:
            vs = [verdict] if isinstance(verdict, str) else list(verdict)
            params["verdict"] = [str(getattr(v, "value", v)) for v in vs]
        if min_height is not None:
            params["min_height"] = min_height
        if profile is not None:
            params["profile"] = profile
        docs, _ = self._pages("/analysis/high-rise", params, None)
        return [ScreeningResult.model_validate({"id": d["id"], **d["properties"]}) for d in docs]

    def analyse(self, analysis_id: str, request: Mapping[str, Any] | BaseModel | None = None, /, **fields: Any) -> Any:
        from ..analysis.registry import get

        analysis = get(analysis_id)
        body = analysis.parse(request, **fields)
        if analysis.method == "GET":
            params = {k: v for k, v in body.model_dump(mode="json", exclude_none=True).items()}
            raw = self._json("GET", f"/analysis/{analysis_id}", params=params)
        else:
            raw = self._json("POST", f"/analysis/{analysis_id}", json=body.model_dump(mode="json", exclude_none=True))
        return analysis.result.model_validate(raw)

    def screen_proposals(
        self, proposals: Sequence[Mapping[str, Any] | Proposal], *, crs: str | None = None, profile: str | None = None
    ) -> list[ScreeningResult]:
        uri = _uri(crs, self.crs_epsg, "crs")
        out = []
        for i, p in enumerate(proposals):
            d = proposal_payload(p, i)
            item = {k: getattr(d[k], "value", d[k]) for k in _PROPOSAL_FIELDS if k in d}
            item["footprint"] = {
                "type": "Polygon",
                "coordinates": [official_order(r, uri).tolist() for r in d["footprint"]],
            }
            out.append(item)
        body: dict[str, Any] = {"crs": uri, "proposals": out}
        if profile is not None:
            body["profile"] = profile
        doc = self._json("POST", "/analysis/high-rise", json=body)
        return [ScreeningResult.model_validate(r) for r in doc["results"]]

    # -- meshes
    def feature_glb(self, collection: str, id: str) -> bytes:
        """The feature's GLB as the service makes it (``/collections/{cid}/items/{fid}/mesh.glb``)."""
        return self._call(
            "GET",
            f"/collections/{quote(collection, safe='')}/items/{quote(id, safe='')}/mesh.glb",
            headers={"Accept": "model/gltf-binary"},
        ).content

    def glb_mesh(self, collection: str, id: str, feature: int = 0, ids: list[str] | None = None) -> Mesh:
        """One feature's GLB from the service as a mesh in city coordinates."""
        pos, faces, colors, extras = glb_triangles(self.feature_glb(collection, id))
        m = np.asarray(extras["georeference"]["enu_to_ecef"], dtype=float).reshape(4, 4).T
        return _mesh(yup_to_city(pos, m, self.crs_epsg), faces, colors, feature, ids or [id])

    def meshes(self, features: Features | Sequence[Any]) -> Mesh:
        from ..mesh import feature_meshes, merge_meshes

        feats = list(features)
        mesh = feature_meshes(feats)
        lod2 = np.array([k for k, f in enumerate(feats) if isinstance(f, Building) and f.id in self._lod2], np.int64)
        if not len(lod2):
            return mesh
        ids = [f.id for f in feats]
        glbs = [self.glb_mesh("buildings", ids[k], int(k), ids) for k in lod2]
        return merge_meshes([_keep_features(mesh, lod2), *glbs], ids)

    def terrain_mesh(
        self, bounds: tuple[float, float, float, float] | None = None, *, max_tiles: int = 16
    ) -> Mesh | None:
        """The terrain from the service's 3D Tiles (``/3dtiles/terrain``): the tiles of the finest level that
        covers ``bounds`` (city CRS) with at most ``max_tiles`` tiles, in city coordinates."""
        from ..crs import city_to_lonlat

        try:
            ts = self._json("GET", "/3dtiles/terrain/tileset.json")
        except (RemoteError, FeatureNotFound):
            return None
        root = ts.get("root") or {}
        if not root.get("content") and not root.get("children"):
            return None
        if bounds is not None:
            ll = np.radians(
                city_to_lonlat(
                    np.array(
                        [[bounds[0], bounds[1]], [bounds[2], bounds[1]], [bounds[2], bounds[3]], [bounds[0], bounds[3]]]
                    ),
                    self.crs_epsg,
                )
            )
            want = (*ll.min(axis=0), *ll.max(axis=0))
        else:
            want = None

        def meets(t: dict[str, Any]) -> bool:
            r = t.get("boundingVolume", {}).get("region")
            if want is None or r is None:
                return True
            return not (r[2] < want[0] or r[0] > want[2] or r[3] < want[1] or r[1] > want[3])

        level = [(root, np.asarray(root.get("transform", np.eye(4).T.ravel()), float).reshape(4, 4).T)]
        chosen = level
        while True:
            nxt = []
            for t, m in level:
                for ch in t.get("children", []):
                    if meets(ch):
                        cm = m @ np.asarray(ch.get("transform", np.eye(4).T.ravel()), float).reshape(4, 4).T
                        nxt.append((ch, cm))
            if not nxt or len(nxt) > max_tiles or not all(t.get("content") for t, _ in nxt):
                break
            chosen = level = nxt
        parts = []
        for t, m in chosen:
            if not t.get("content"):
                continue
            data = self._call("GET", f"/3dtiles/terrain/{t['content']['uri']}").content
            pos, faces, colors, _ = glb_triangles(data)
            xyz = yup_to_city(pos, m, self.crs_epsg)
            if bounds is not None:  # the faces over the area (with a margin of 10 m)
                c = xyz[faces].mean(axis=1)
                faces = faces[
                    (c[:, 0] >= bounds[0] - 10)
                    & (c[:, 0] <= bounds[2] + 10)
                    & (c[:, 1] >= bounds[1] - 10)
                    & (c[:, 1] <= bounds[3] + 10)
                ]
            parts.append(_mesh(xyz, faces, colors, 0, ["terrain"]))
        from ..mesh import merge_meshes

        return merge_meshes(parts, ["terrain"]) if parts else None


def _lists(coords: Any) -> Any:
    if isinstance(coords, list | tuple) and coords and isinstance(coords[0], int | float):
        return [float(c) for c in coords]
    return [_lists(c) for c in coords]


def connect(url: str, *, token: str | None = None, timeout: float = 300.0) -> RemoteCity:
    """A city served at ``url`` (``http://host:port``): the same interface as ``cim.open`` gives, over HTTP."""
    return RemoteCity(url, token=token, timeout=timeout)


__all__ = ["RemoteCity", "RemoteError", "connect", "COLLECTIONS"]
