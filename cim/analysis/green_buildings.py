"""Green buildings: the share of star-rated buildings (一星 and above, GB/T 50378-2019) among the buildings built
since a year, by district, against Liaoning's 40 % target for new buildings by 2030.

A building's district is its ``attributes.district``, else the community (``communities``) its footprint's
centroid lies in, else ``None`` (outside every community).  Buildings without ``year_built`` are left out.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np
import shapely
from pydantic import BaseModel, Field

from ..layers import Community
from ..model import Building
from ..rules.city_services import green_rules
from ..store.typed import iter_typed
from .registry import Analysis

if TYPE_CHECKING:
    from ..city import LocalCity


class GreenRequest(BaseModel):
    """The first year of construction counted."""

    since: int = Field(2021, ge=1900, le=2100, description="First year of construction counted.")


class GreenRow(BaseModel):
    """One district's (or the total's) buildings built since the year, how many are star-rated, and the share against
    the target."""

    district: str | None
    buildings: int = Field(description="Buildings built since the year.")
    star_rated: int = Field(description="Of which green_star >= 1.")
    share: float | None
    by_star: dict[str, int] = Field(description="Star level (0-3, or 'none') -> buildings.")
    meets_target: bool | None


class GreenResult(BaseModel):
    """The star-rated share of new buildings, in total and by district, against the target share (0-1)."""

    since: int
    target_share: float
    target: str
    total: GreenRow
    districts: list[GreenRow]
    rule: str


def _row(district: str | None, stars: np.ndarray, target: float) -> GreenRow:
    n = len(stars)
    rated = int((stars >= 1).sum())
    by = {str(k): int((stars == k).sum()) for k in range(4)}
    by["none"] = int((stars < 0).sum())
    share = rated / n if n else None
    return GreenRow(
        district=district,
        buildings=n,
        star_rated=rated,
        share=share,
        by_star=by,
        meets_target=None if share is None else share >= target - 1e-12,
    )


def green_buildings(city: LocalCity, req: GreenRequest) -> GreenResult:
    """The registered analysis: star ratings of the buildings built since ``since``, by district."""
    rules = green_rules()
    target = rules.target.share
    blds = [
        b
        for b in iter_typed(city.store, "buildings", Building)
        if b.year_built is not None and b.year_built >= req.since
    ]
    comms = list(iter_typed(city.store, "communities", Community))
    district = np.array([b.attributes.get("district") for b in blds], dtype=np.object_)
    todo = np.flatnonzero([d is None for d in district])
    if len(todo) and comms:
        polys = shapely.polygons([shapely.linearrings(c.footprint[0]) for c in comms])
        cent = shapely.centroid(shapely.polygons([shapely.linearrings(blds[i].footprint[0]) for i in todo]))
        hit = shapely.STRtree(polys).query(cent, predicate="within")
        for t, c in zip(hit[0][::-1], hit[1][::-1], strict=True):
            district[todo[t]] = comms[c].id
    stars = np.array([-1 if b.green_star is None else b.green_star for b in blds], dtype=np.int64)
    keys = sorted({d for d in district if d is not None}, key=str)
    rows = [_row(str(k), stars[district == k], target) for k in keys]
    if any(d is None for d in district):
        rows.append(_row(None, stars[np.array([d is None for d in district], dtype=bool)], target))
    return GreenResult(
        since=req.since,
        target_share=target,
        target=rules.target.wording,
        total=_row(None, stars, target),
        districts=rows,
        rule=f"{rules.document} ({rules.confidence}); target {rules.target.id} ({rules.target.confidence})",
    )


def write_csv(result: GreenResult, request: GreenRequest) -> str:
    """The district rows and the total as CSV."""
    buf = io.StringIO()
    buf.write("district,buildings,star_rated,share,meets_target\n")
    for r in [*result.districts, result.total.model_copy(update={"district": "(total)"})]:
        share = "" if r.share is None else f"{r.share:.6f}"
        buf.write(f"{r.district or '(none)'},{r.buildings},{r.star_rated},{share},{r.meets_target}\n")
    return buf.getvalue()


ANALYSIS = Analysis(
    id="green-buildings",
    title="Green buildings: star-rated share of new buildings",
    description="Share of star-rated green buildings (GB/T 50378-2019 一星 and above) among buildings built since "
    "a year, by district, against the 40 % target for new buildings by 2030 (Liaoning).",
    request=GreenRequest,
    result=GreenResult,
    run=green_buildings,
    method="GET",
    heavy=False,
    keywords=("绿色建筑", "green building"),
    writers={"csv": write_csv},
    media_types={"csv": "text/csv; charset=utf-8"},
)
