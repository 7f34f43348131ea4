"""Adding an analysis is one module and one registration: a toy registered from outside the package
(``CIM_ANALYSES``) appears in a real server's ``/processes`` and ``POST /analysis/{id}``, in
``cim analyse --help`` (a real process), and in ``cim.connect(...).analyse(...)``; OWSLib's OGC API -
Processes client lists and executes it and the built-in analyses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import cim
from cim.analysis import registry
from tests.common import X0, Y0

from ..conftest import Server
from .toy_analysis import ANALYSIS as TOY

PLUGIN = "tests.analysis.toy_analysis:ANALYSIS"
CRS = "http://www.opengis.net/def/crs/EPSG/0/4550"
# 100 m x 100 m over the first row of the tiny city's buildings (EPSG:4550: northing, easting)
SQUARE = {
    "type": "Polygon",
    "coordinates": [[[Y0, X0], [Y0, X0 + 100], [Y0 + 100, X0 + 100], [Y0 + 100, X0], [Y0, X0]]],
}
REQUEST = {"region": SQUARE, "crs": CRS, "factor": 3, "label": "here"}


@pytest.fixture(scope="module")
def server(tiny_city_path):
    s = Server(tiny_city_path, CIM_ANALYSES=PLUGIN)
    yield s
    s.stop()


@pytest.fixture
def toy():
    registry.register(TOY)
    yield TOY
    registry.unregister(TOY.id)


def _expected(city_path) -> dict:
    with cim.open(city_path) as city:
        res = city.analyse(TOY.id, REQUEST)
    assert res.area_m2 == pytest.approx(10_000.0, rel=1e-9)
    assert res.scaled == pytest.approx(30_000.0, rel=1e-9)
    assert res.buildings == 9  # 20 m squares every 50 m at 0, 50, 100 (those at 100 touch the edge) each way
    return res.model_dump(mode="json")


def test_toy_over_http_and_remote_city(server, toy, tiny_city_path):
    import httpx

    want = _expected(tiny_city_path)
    ids = [p["id"] for p in httpx.get(f"{server.url}/processes").json()["processes"]]
    assert TOY.id in ids and "underground-use" in ids
    desc = httpx.get(f"{server.url}/processes/{TOY.id}").json()
    assert set(desc["inputs"]) == {"region", "crs", "factor", "label"}
    assert desc["inputs"]["region"]["minOccurs"] == 1 and desc["inputs"]["factor"]["minOccurs"] == 0
    r = httpx.post(f"{server.url}/analysis/{TOY.id}", json=REQUEST)
    assert r.status_code == 200 and r.json() == want
    with cim.connect(server.url) as remote:
        got = remote.analyse(TOY.id, **REQUEST)
    assert got.model_dump(mode="json") == want


def test_toy_in_the_command_line(toy, tiny_city_path, tmp_path):
    env = {**os.environ, "CIM_ANALYSES": PLUGIN, "COLUMNS": "200"}

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "cim.cli", "analyse", *args], capture_output=True, text=True, env=env, timeout=120
        )

    help_text = cli("--help").stdout
    assert TOY.id in help_text and "underground-use" in help_text and "high-rise" in help_text
    sub = cli(TOY.id, "--help").stdout
    for option in ("--region", "--crs", "--factor", "--label", "--out", "--format"):
        assert option in sub
    region_file = tmp_path / "region.json"
    region_file.write_text(json.dumps(SQUARE))
    out = tmp_path / "toy.json"
    r = cli(
        TOY.id,
        "--store",
        str(tiny_city_path),
        "--region",
        str(region_file),
        "--crs",
        CRS,
        "--factor",
        "3",
        "--label",
        "here",
        "--out",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text()) == _expected(tiny_city_path)
    csv = cli(TOY.id, "--store", str(tiny_city_path), "--region", json.dumps(SQUARE), "--crs", CRS, "-f", "csv")
    assert csv.stdout.splitlines() == ["area_m2,scaled,buildings", "10000.0,20000.0,9"]
    bad = cli(TOY.id, "--store", str(tiny_city_path), "--region", json.dumps(SQUARE), "--crs", CRS, "--factor", "-1")
    assert bad.returncode == 2 and "factor" in bad.stderr


def test_high_rise_command_made_from_its_model(tiny_city_path, tmp_path):
    proposals = [
        {
            "id": "p1",
            "footprint": {
                "type": "Polygon",
                "coordinates": [
                    [[Y0 + 600, X0 + 600], [Y0 + 600, X0 + 640], [Y0 + 630, X0 + 640], [Y0 + 600, X0 + 600]]
                ],
            },
            "floors": 40,
            "use": "residential",
        }
    ]
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "cim.cli",
            "analyse",
            "high-rise",
            "--store",
            str(tiny_city_path),
            "--crs",
            CRS,
            "--proposals",
            json.dumps(proposals),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["results"][0]["id"] == "p1" and doc["results"][0]["height"] == pytest.approx(120.0)
    with cim.open(tiny_city_path) as city:
        want = city.analyse("high-rise", crs=CRS, proposals=proposals).model_dump(mode="json")
    assert doc == want


def test_owslib_lists_and_executes(server, toy, tiny_city_path):
    from owslib.ogcapi.processes import Processes

    want = _expected(tiny_city_path)
    client = Processes(server.url)
    ids = {p["id"] for p in client.processes()}
    assert {"underground-use", "excavation", "pipe-compliance", "high-rise", TOY.id} <= ids
    desc = client.process("excavation")
    assert {"region", "crs", "depth", "bottom_z", "buffer"} == set(desc["inputs"])
    sync = client.execute(TOY.id, inputs=REQUEST)  # OWSLib asks for a document response
    assert sync == {"result": want}
    job = client.execute(TOY.id, inputs=REQUEST, async_=True)
    assert job["status"] in ("accepted", "running", "successful")
    location = client.response_headers["Location"]
    assert location.endswith(f"/jobs/{job['jobID']}")
    end = time.monotonic() + 30
    while True:
        info = client._request(path=f"jobs/{job['jobID']}")
        if info["status"] in ("successful", "failed") or time.monotonic() > end:
            break
        time.sleep(0.05)
    assert info["status"] == "successful", info
    assert client._request(path=f"jobs/{job['jobID']}/results") == {"result": want}
    # a built-in analysis through OWSLib equals its own route
    import httpx

    body = {"crs": CRS}
    direct = httpx.get(f"{server.url}/analysis/pipe-compliance", params=body).json()
    client.headers.pop("Prefer", None)
    assert client.execute("pipe-compliance", inputs=body) == {"result": direct}
