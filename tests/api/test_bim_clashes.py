"""HTTP: an IFC upload lands with its elements; an upload checked for clashes is refused with the report; the
registered clash analysis answers JSON and a GeoJSON layer for the viewer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from cim.store import open_store

from .. import common
from ..analysis.underground_cases import pipe
from .conftest import no_server_errors

TOKEN = "s3cret-token-for-tests-0023"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GEOREF = Path(__file__).parent.parent / "data" / "georef_ifc4.ifc"
X0, Y0 = common.X0, common.Y0


@pytest.fixture
def client(tmp_path):
    path = tmp_path / "c.sqlite"
    s = open_store(path, create=True)
    s.init(common.CITY)
    s.write([pipe("w", [(0, 50, 47.0), (100, 50, 47.0)], d=0.6, utility="water")])
    s.close()
    app = create_app(Settings(store=str(path), write_tokens=[TOKEN], upload_dir=str(tmp_path / "up")))
    with TestClient(app, raise_server_exceptions=False) as c:
        c.event_hooks["response"].append(no_server_errors)
        yield c


def _crs84(x: float, y: float) -> list[float]:
    from pyproj import Transformer

    return list(Transformer.from_crs(4550, 4326, always_xy=True).transform(x, y))


def _sewer(zs: float) -> bytes:
    coords = [[*_crs84(X0 + 50, Y0), zs], [*_crs84(X0 + 50, Y0 + 100), zs]]
    feat = {
        "type": "Feature",
        "properties": {"id": "s", "utility": "sewer", "diameter": 0.4},
        "geometry": {"type": "LineString", "coordinates": coords},
    }
    return json.dumps({"type": "FeatureCollection", "features": [feat]}).encode()


def test_ifc_upload_and_clash_refusal(client):
    r = client.post(
        "/imports", files=[("files", ("house.ifc", GEOREF.read_bytes()))], data={"wait": "true"}, headers=AUTH
    )
    job = r.json()
    assert job["status"] == "succeeded", job
    assert job["counts"] == {"buildings": 1, "underground-structures": 1} and job["files"][0]["format"] == "ifc"
    b = client.get("/collections/buildings/items", params={"crs": "EPSG:4550"}).json()["features"][0]
    assert len(b["properties"]["elements"]) == 25 and b["properties"]["cim_level"] == 6
    # its mesh is the IFC triangles (not a 12-triangle prism)
    import io

    import trimesh

    glb = client.get(f"/collections/buildings/items/{b['id']}/mesh.glb")
    assert glb.status_code == 200
    scene = trimesh.load(io.BytesIO(glb.content), file_type="glb", process=False)
    faces = sum(len(g.faces) for g in scene.geometry.values())
    assert faces == len(client.app.state.store.get("buildings", b["id"]).surfaces) > 200
    # a sewer 0.1 m into the water main: refused, with the report
    r = client.post(
        "/imports",
        files=[("files", ("s.geojson", _sewer(47.0 - 0.5 + 0.1)))],
        data={"wait": "true", "reject_on_clash": "true"},
        headers=AUTH,
    )
    job = r.json()
    assert job["status"] == "failed" and job["error"]["status"] == 400
    assert job["clashes"]["counts"]["hard"] == 1 and job["clashes"]["clashes"][0]["penetration"] > 0.09
    assert client.app.state.store.counts()["pipes"] == 1
    # checked but accepted: the report comes with the job
    r = client.post(
        "/imports",
        files=[("files", ("s.geojson", _sewer(47.0 - 0.5 - 0.2)))],
        data={"wait": "true", "check": "clashes"},
        headers=AUTH,
    )
    job = r.json()
    assert job["status"] == "succeeded" and job["clashes"]["counts"] == {"hard": 0, "clearance": 1}


def test_clash_analysis_route_json_and_geojson(client):
    ring = [_crs84(X0 + x, Y0 + y) for x, y in [(-10, -10), (110, -10), (110, 110), (-10, 110), (-10, -10)]]
    client.app.state.store.write([pipe("s", [(50, 0, 46.2), (50, 100, 46.2)], d=0.4, utility="sewer")])
    body = {"region": {"type": "Polygon", "coordinates": [ring]}}
    r = client.post("/analysis/clashes", json=body)
    assert r.status_code == 200, r.text
    [c] = r.json()["clashes"]
    assert (
        c["type"] == "clearance" and c["rule"] == "v.drainage.water" and c["distance"] == pytest.approx(0.3, abs=1e-4)
    )
    g = client.post("/analysis/clashes", params={"f": "geojson"}, json=body)
    assert g.status_code == 200 and g.headers["content-type"].startswith("application/geo+json")
    [feat] = g.json()["features"]
    assert feat["geometry"]["type"] == "Point" and feat["geometry"]["coordinates"][:2] == pytest.approx(
        _crs84(X0 + 50, Y0 + 50), abs=1e-7
    )
