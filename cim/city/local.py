"""The city over a store: :class:`LocalCity` (the library, no server)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel

from ..analysis.compliance import ComplianceReport, PipelineRules, pipe_compliance
from ..analysis.excavation import Excavation, excavation_conflicts
from ..analysis.highrise import Proposal, ScreeningResult
from ..analysis.screening import Screened, ScreeningCache
from ..analysis.underground import UndergroundUse, underground_use
from ..collections import COLLECTIONS, get_spec
from ..errors import InvalidParameter
from ..model import City
from ..query.bbox import region_from_bbox
from ..query.cql2 import parse_filter, parse_sortby
from ..store import Store, open_store
from ..store.base import Region
from .base import CityInfo, CityModel, Feature, Features, Limits, _verdicts, extent_of
from .params import _uri, bbox_values, official_order, proposal_payload

if TYPE_CHECKING:
    from ..mesh import Mesh
    from ..terrain import Terrain


# -- the local city -------------------------------------------------------------------------------------------------
class LocalCity(CityModel):
    """A city over a store (the library, no server).  The store's own API stays available: ``city.store``,
    and ``query``, ``iter_features``, ``terrain``, ``building_points``, ``counts``, ``bounds``, ``city``,
    ``version`` (any other attribute too) are the store's, so code written for ``cim.open`` returning a
    Store keeps working.

    ``pipeline_rules``: overrides of the pipeline rules (a TOML/JSON file or a mapping), as the service's
    ``CIM_PIPELINE_RULES``.  ``limits``: the service's limits on analysis input (:class:`Limits`).
    """

    def __init__(self, store: Store | str | Path, *, pipeline_rules: Any = None, limits: Limits | None = None) -> None:
        self.store: Store = store if isinstance(store, Store) else open_store(store)
        self.source = str(self.store.url)
        self.pipeline_rules = PipelineRules.load(pipeline_rules)
        self.limits = limits or Limits()
        self._city: City | None = None
        self.screening = ScreeningCache()

    # the Store's API, for callers of the former ``cim.open`` -> Store
    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name == "store":
            raise AttributeError(name)
        return getattr(self.store, name)

    def query(self, collection: str, **kw: Any) -> Any:
        return self.store.query(collection, **kw)

    def observations(self, feature_or_datastream: int | str, start: Any = None, end: Any = None) -> Any:
        """Sensor observations in [start, end) as a pandas DataFrame (time UTC, datastream, name, unit,
        result): a datastream id, or a feature ``"collection/fid"`` (every datastream of its Things)."""
        from ..sensors import observations_frame

        return observations_frame(self.store, feature_or_datastream, start, end)

    def iter_features(self, collection: str, **kw: Any) -> Any:
        return self.store.iter_features(collection, **kw)

    def terrain(self) -> Terrain | None:
        return self.store.terrain()

    def building_points(self) -> np.ndarray | None:
        return self.store.building_points()

    def counts(self) -> dict[str, int]:
        return self.store.counts()

    def bounds(self, collection: str) -> Any:
        return self.store.bounds(collection)

    def city(self) -> City:
        return self.store.city()

    def version(self) -> int:
        return self.store.version()

    def close(self) -> None:
        self.store.close()

    # CityModel
    @property
    def crs_epsg(self) -> int:
        if self._city is None:
            self._city = self.store.city()
        return self._city.crs_epsg

    def info(self) -> CityInfo:
        city = self.store.city()
        return CityInfo(
            name=city.name,
            crs_epsg=city.crs_epsg,
            vertical_datum=city.vertical_datum,
            counts=self.store.counts(),
            version=self.store.version(),
            extent=extent_of((self.store.bounds(c) for c in COLLECTIONS), city.crs_epsg),
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
        epsg = self.crs_epsg
        region = None
        if bbox is not None:
            values, uri = bbox_values(bbox, bbox_crs, epsg)
            region = region_from_bbox(values, uri, epsg)
        elif bbox_crs is not None:
            _uri(bbox_crs, epsg, "bbox-crs")
        flt = None if filter is None else parse_filter(filter, crs=filter_crs, city_epsg=epsg)
        order = parse_sortby(list(sortby) if isinstance(sortby, list | tuple) else sortby, collection)
        if limit is not None and limit < 1:
            raise InvalidParameter("limit", "limit must be at least 1 (None: every match).")
        if offset < 0:
            raise InvalidParameter("offset", "offset must be at least 0.")
        page = self.store.query(collection, region=region, filter=flt, sortby=order, limit=limit, offset=offset)
        return Features(page.features, collection=collection, matched=page.matched, crs_epsg=epsg)

    def get(self, collection: str, id: str) -> Feature:
        return self.store.get(collection, id)  # type: ignore[return-value]

    def underground_use(
        self,
        region: Any,
        *,
        crs: str | None = None,
        bands: Sequence[Sequence[float]] | None = None,
        z_min: float | None = None,
        z_max: float | None = None,
    ) -> UndergroundUse:
        return underground_use(self.store, self.region(region, crs), bands=bands, z_min=z_min, z_max=z_max)

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
        return excavation_conflicts(self.store, self.region(region, crs), depth=depth, bottom_z=bottom_z, buffer=buffer)

    def pipe_compliance(
        self, bbox: Sequence[float] | str | None = None, *, bbox_crs: str | None = None
    ) -> ComplianceReport:
        polygon = None
        if bbox is not None:
            values, uri = bbox_values(bbox, bbox_crs, self.crs_epsg)
            half = len(values) // 2
            polygon = region_from_bbox(values[:2] + values[half : half + 2], uri, self.crs_epsg).polygon
        elif bbox_crs is not None:
            _uri(bbox_crs, self.crs_epsg, "bbox-crs")
        return pipe_compliance(self.store, polygon, rules=self.pipeline_rules)

    def screened(self, profile: str | None = None) -> Screened:
        """Every building screened under ``profile``, cached per store version (the service shares it)."""
        return self.screening.get(self.store, profile)

    def screen_high_rise(
        self,
        *,
        bbox: Sequence[float] | str | None = None,
        bbox_crs: str | None = None,
        verdict: str | Sequence[str] | None = None,
        min_height: float | None = None,
        profile: str | None = None,
    ) -> list[ScreeningResult]:
        region: Region | None = None
        if bbox is not None:
            values, uri = bbox_values(bbox, bbox_crs, self.crs_epsg)
            region = region_from_bbox(values, uri, self.crs_epsg)
        elif bbox_crs is not None:
            _uri(bbox_crs, self.crs_epsg, "bbox-crs")
        if min_height is not None and min_height < 0:
            raise InvalidParameter("min_height", "min_height must be at least 0.")
        s = self.screened(profile)
        return [s.results[i] for i in s.select(region, _verdicts(verdict), min_height)]

    def analyse(self, analysis_id: str, request: Mapping[str, Any] | BaseModel | None = None, /, **fields: Any) -> Any:
        from ..analysis.registry import get

        return get(analysis_id).execute(self, request, **fields)

    def screen_proposals(
        self, proposals: Sequence[Mapping[str, Any] | Proposal], *, crs: str | None = None, profile: str | None = None
    ) -> list[ScreeningResult]:
        from ..analysis import screening

        uri = _uri(crs, self.crs_epsg, "crs")
        items = []
        for i, p in enumerate(proposals):
            d = proposal_payload(p, i)
            item = {k: getattr(d[k], "value", d[k]) for k in screening.ProposalIn.model_fields if k in d}
            item["footprint"] = {
                "type": "Polygon",
                "coordinates": [official_order(r, uri).tolist() for r in d["footprint"]],
            }
            items.append(item)
        request = screening.ANALYSIS.parse({"crs": uri, "profile": profile, "proposals": items})
        return screening.ANALYSIS.run(self, request).results

    def meshes(self, features: Features | Sequence[Any]) -> Mesh:
        from ..mesh import feature_meshes

        return feature_meshes(list(features))

    def terrain_mesh(
        self, bounds: tuple[float, float, float, float] | None = None, *, max_cells: int = 100_000
    ) -> Mesh | None:
        from ..mesh import terrain_mesh

        t = self.store.terrain()
        if t is None:
            return None
        ny, nx = t.shape
        window = None
        if bounds is not None:
            i0 = int(np.clip(np.floor((bounds[0] - t.x0) / t.cell), 0, nx - 1))
            j0 = int(np.clip(np.floor((bounds[1] - t.y0) / t.cell), 0, ny - 1))
            i1 = int(np.clip(np.ceil((bounds[2] - t.x0) / t.cell), 0, nx - 1))
            j1 = int(np.clip(np.ceil((bounds[3] - t.y0) / t.cell), 0, ny - 1))
            if i1 <= i0 or j1 <= j0:
                return None
            window = (i0, j0, i1, j1)
        cells = (window[2] - window[0]) * (window[3] - window[1]) if window else nx * ny
        step = max(1, int(np.ceil(np.sqrt(cells / max_cells))))
        zr = (float(np.nanmin(t.z)), float(np.nanmax(t.z)))
        return terrain_mesh(t, step, window, zr)
