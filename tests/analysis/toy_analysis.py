"""A toy analysis in a module of its own, registered from outside the package (``CIM_ANALYSES``): how a
new analysis is added, one module and one registration."""

from __future__ import annotations

from pydantic import BaseModel, Field

from cim.analysis.params import CRS_DOC, Region, city_region
from cim.analysis.registry import Analysis
from cim.store import Region as StoreRegion


class RegionCountRequest(BaseModel):
    """A region and a factor."""

    region: Region
    crs: str | None = Field(None, description=CRS_DOC)
    factor: float = Field(2.0, gt=0, description="Multiplies the area.")
    label: str = Field("toy", description="Echoed back.")


class RegionCountResult(BaseModel):
    """The region's area (m²), scaled, and the buildings it touches."""

    area_m2: float
    scaled: float
    buildings: int
    label: str


def run(city, req: RegionCountRequest) -> RegionCountResult:
    poly = city_region(city, req.region, req.crs)
    page = city.store.query("buildings", region=StoreRegion(poly), limit=1)
    return RegionCountResult(area_m2=poly.area, scaled=poly.area * req.factor, buildings=page.matched, label=req.label)


ANALYSIS = Analysis(
    id="toy-region-count",
    title="Toy: area and buildings of a region",
    description="The region's area in square metres, times a factor, and how many buildings it touches.",
    request=RegionCountRequest,
    result=RegionCountResult,
    run=run,
    writers={"csv": lambda res, req: f"area_m2,scaled,buildings\n{res.area_m2},{res.scaled},{res.buildings}\n"},
    media_types={"csv": "text/csv"},
)
