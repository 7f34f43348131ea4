"""Results as tables: :func:`frame` (pandas; GeoPandas when installed)."""

from __future__ import annotations

from typing import Any

import shapely
from pydantic import BaseModel

from ..analysis.compliance import ComplianceReport, Violation
from ..analysis.excavation import Excavation
from ..analysis.highrise import ScreeningResult
from ..analysis.underground import UndergroundUse
from ..collections import COLLECTIONS


# -- tables -----------------------------------------------------------------------------------------------------
def _shape(spec: Any, f: BaseModel) -> shapely.Geometry:
    gtype, parts = spec.geometry(f)
    if gtype == "Polygon":
        return shapely.Polygon(parts[0], parts[1:])
    if gtype == "LineString":
        return shapely.LineString(parts[0])
    return shapely.Point(parts[0][0])


def _table(rows: list[dict[str, Any]], geoms: list[Any] | None, crs_epsg: int | None, index: str | None = "id"):
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError("cim.frame needs pandas: pip install 'cim-service[notebook]' (or pandas)") from None
    df = pd.DataFrame(rows)
    if index and index in df.columns:
        df = df.set_index(index)
    if geoms is None:
        return df
    try:
        import geopandas as gpd
    except ImportError:
        df["geometry"] = geoms
        return df
    return gpd.GeoDataFrame(df, geometry=list(geoms), crs=f"EPSG:{crs_epsg}" if crs_epsg else None)


def frame(obj: Any, *, geometry: bool = True):
    """A pandas DataFrame of a result (a GeoDataFrame in the city CRS when GeoPandas is installed):

    * features (a :class:`Features` list or any list of feature models): one row per feature, indexed by id,
      the columns of the GeoJSON properties, ``geometry`` shapely (city CRS; pipes and nodes 3-D);
    * a list of :class:`~cim.analysis.ScreeningResult`: one row per building, heights flattened
      (``height_attribute``, ``height_lidar`` ...), ``rules`` the ids of the rules met at the verdict's level;
    * :class:`~cim.analysis.UndergroundUse`: one row per band, occupied volume by category as columns;
    * :class:`~cim.analysis.Excavation`: one row per hit (``x``, ``y`` city CRS);
    * :class:`~cim.analysis.ComplianceReport`: one row per violation (``features`` ids comma-separated).
    """
    epsg = getattr(obj, "crs_epsg", None)
    if isinstance(obj, UndergroundUse):
        rows = []
        for b in obj.bands:
            row = b.model_dump(exclude={"features", "by_category"})
            row.update({f"volume_{k}": v for k, v in sorted(b.by_category.items())})
            row["features"] = len(b.features)
            rows.append(row)
        return _table(rows, None, None, index=None)
    if isinstance(obj, Excavation):
        rows = []
        for h in obj.hits:
            row = h.model_dump(exclude={"location"})
            row["x"], row["y"] = h.location[0], h.location[1]
            rows.append(row)
        geoms = [shapely.Point(h.location[0], h.location[1]) for h in obj.hits] if geometry else None
        return _table(rows, geoms, epsg)
    if isinstance(obj, ComplianceReport):
        obj = obj.violations
    items = list(obj)
    if not items:
        return _table([], None, None)
    first = items[0]
    if isinstance(first, Violation):
        rows = []
        for v in items:
            row = v.model_dump(mode="json", exclude={"location", "features", "also", "notes"})
            row["features"] = ",".join(r.id for r in v.features)
            row["also"] = ",".join(v.also)
            rows.append(row)
        geoms = [shapely.geometry.shape(v.location) for v in items] if geometry else None
        return _table(rows, geoms, epsg)
    if isinstance(first, ScreeningResult):
        rows = []
        for r in items:
            row = r.model_dump(mode="json", exclude={"reasons", "heights"})
            row.update({f"height_{k}": v for k, v in r.heights.model_dump(mode="json").items() if k != "used"})
            row["rules"] = ",".join(x.rule for x in r.reasons if x.verdict == r.verdict)
            rows.append(row)
        return _table(rows, None, None)
    for spec in COLLECTIONS.values():
        if isinstance(first, spec.model):
            hidden = spec.geometry_fields | spec.hidden_fields
            rows = [{"id": f.id, **f.model_dump(mode="json", exclude=hidden | {"id"})} for f in items]
            geoms = [_shape(spec, f) for f in items] if geometry else None
            return _table(rows, geoms, epsg)
    if isinstance(first, BaseModel):
        return _table(
            [x.model_dump(mode="json") for x in items], None, None, index="id" if hasattr(first, "id") else None
        )
    raise TypeError(f"cim.frame does not know {type(first).__name__}")
