"""The analysis registry: a toy analysis, registered in one line, is served everywhere analyses are."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from api.main import create_app
from api.settings import Settings
from cim.analysis import registry
from cim.analysis.params import CRS_DOC, Region, city_region
from cim.city import LocalCity
from cim.errors import InvalidParameter, UnknownAnalysis

from ..api.conftest import assert_problem


class ToyRequest(BaseModel):
    region: Region
    crs: str | None = Field(None, description=CRS_DOC)
    factor: float = Field(2.0, gt=0, description="Multiplies the area.")


class ToyResult(BaseModel):
    area_m2: float
    scaled: float
    buildings: int


def _run(city: LocalCity, req: ToyRequest) -> ToyResult:
    poly = city_region(city, req.region, req.crs)
    from cim.store import Region as StoreRegion

    page = city.store.query("buildings", region=StoreRegion(poly))
    return ToyResult(area_m2=poly.area, scaled=poly.area * req.factor, buildings=page.matched)


TOY = registry.Analysis(
    id="toy-area",
    title="Toy: area of a region",
    description="The region's area in square metres, times a factor, and the buildings it touches.",
    request=ToyRequest,
    result=ToyResult,
    run=_run,
    writers={"csv": lambda res, req: f"area_m2,scaled\n{res.area_m2},{res.scaled}\n"},
    media_types={"csv": "text/csv"},
)

SQUARE = {  # 100 m x 100 m in the city CRS (EPSG:4550: northing, easting), inside the tiny city (a region
    # outside the city's extent is refused: issue 15)
    "type": "Polygon",
    "coordinates": [[[4627000, 535000], [4627000, 535100], [4627100, 535100], [4627100, 535000], [4627000, 535000]]],
}
CRS = "http://www.opengis.net/def/crs/EPSG/0/4550"


@pytest.fixture
def toy():
    registry.register(TOY)
    yield TOY
    registry.unregister(TOY.id)


def test_register_get_and_duplicate(toy):
    assert registry.get("toy-area") is toy
    assert "toy-area" in registry.analyses()
    with pytest.raises(ValueError):
        registry.register(registry.Analysis(**{**toy.__dict__, "title": "other"}))
    with pytest.raises(UnknownAnalysis):
        registry.get("nope")


def test_local_city_runs_it(toy, tiny_city_path):
    with LocalCity(tiny_city_path) as city:
        res = city.analyse("toy-area", region=SQUARE, crs=CRS, factor=3)
        assert res.area_m2 == pytest.approx(10_000.0, rel=1e-9)
        assert res.scaled == pytest.approx(30_000.0, rel=1e-9)
        with pytest.raises(InvalidParameter) as exc:
            city.analyse("toy-area", region=SQUARE, crs=CRS, factor=-1)
        assert exc.value.parameter == "factor"


def test_region_outside_the_city_is_a_400_naming_crs_and_axis_order(toy, tiny_city_path):
    """The square written easting first under the EPSG:4550 URI (northing first) lands 4,000 km away."""
    swapped = {"type": "Polygon", "coordinates": [[[y, x] for x, y in SQUARE["coordinates"][0]]]}
    with TestClient(create_app(Settings(store=str(tiny_city_path)))) as client:
        r = client.post("/analysis/toy-area", json={"region": swapped, "crs": CRS})
        body = assert_problem(r, 400, "region")
        assert body["crs"] == CRS and body["axis_order"] == "northing, easting"
        assert "outside the city" in body["detail"] and "axes swapped" in body["detail"]
        assert client.post("/analysis/toy-area", json={"region": SQUARE, "crs": CRS}).status_code == 200
    with LocalCity(tiny_city_path) as city, pytest.raises(InvalidParameter, match="outside the city"):
        city.analyse("toy-area", region=swapped, crs=CRS)


def test_http_route_made_from_the_registration(toy, tiny_city_path):
    app = create_app(Settings(store=str(tiny_city_path)))
    with TestClient(app) as client:
        r = client.post("/analysis/toy-area", json={"region": SQUARE, "crs": CRS})
        assert r.status_code == 200, r.text
        assert r.json()["scaled"] == pytest.approx(20_000.0, rel=1e-9)
        csv = client.post("/analysis/toy-area?f=csv", json={"region": SQUARE, "crs": CRS})
        assert csv.headers["content-type"].startswith("text/csv")
        assert csv.text.splitlines()[0] == "area_m2,scaled"
        assert_problem(client.post("/analysis/toy-area?f=xml", json={"region": SQUARE, "crs": CRS}), 400, "f")
        assert_problem(client.post("/analysis/toy-area", json={"region": SQUARE, "factor": 0}), 400)
        spec = client.get("/api").json()
        assert "/analysis/toy-area" in spec["paths"]
