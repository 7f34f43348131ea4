"""``cim analyse ...`` run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from cim.store import open_store
from tests.common import CITY, X0, Y0

from .underground_cases import GROUND, basement, flat_terrain, pipe


def cim(*args, check=True):
    return subprocess.run(
        [sys.executable, "-m", "cim.cli", "analyse", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=300,
        check=check,
    )


@pytest.fixture(scope="module")
def path(tmp_path_factory):
    p = tmp_path_factory.mktemp("cli") / "c.sqlite"
    s = open_store(p, create=True)
    s.init(CITY)
    s.write(
        [
            pipe("w", [(20, 50, GROUND - 2), (120, 50, GROUND - 2)], 0.6, "water", lane="footway"),
            pipe(
                "g",
                [(20, 60, GROUND - 0.5), (120, 60, GROUND - 0.5)],
                0.2,
                "gas",
                lane="motor_lane",
                pressure_class="low",
            ),
            basement("b", 10, 110, 20, 30, GROUND, GROUND - 20.0),
        ],
        terrain=flat_terrain(),
    )
    s.close()
    return str(p)


# the region in EPSG:4550's own axis order: northing, easting
BBOX = f"{Y0},{X0},{Y0 + 200},{X0 + 200}"


def test_underground_use(path, tmp_path):
    out = tmp_path / "u.json"
    r = cim(
        "underground-use",
        "--store",
        path,
        "--crs",
        "EPSG:4550",
        "--bbox",
        BBOX,
        "--bands",
        "0-15,15-30",
        "--json",
        str(out),
    )
    assert "0 – 15" in r.stdout and "basement" in r.stdout
    doc = json.loads(out.read_text())
    assert [b["bottom"] for b in doc["bands"]] == [15, 30]
    assert doc["bands"][1]["by_category"] == pytest.approx({"basement": 20 * 30 * 5})


def test_excavation(path, tmp_path):
    out = tmp_path / "e.geojson"
    r = cim(
        "excavation",
        "--store",
        path,
        "--crs",
        "EPSG:4550",
        "--bbox",
        f"{Y0 + 40},{X0 + 60},{Y0 + 62},{X0 + 80}",
        "--depth",
        "3",
        "--buffer",
        "0",
        "--geojson",
        str(out),
    )
    assert "critical" in r.stdout and "high" in r.stdout
    fc = json.loads(out.read_text())
    assert {f["id"] for f in fc["features"]} == {"w", "g"}
    north, east, z = next(f for f in fc["features"] if f["id"] == "w")["geometry"]["coordinates"]
    assert north == pytest.approx(Y0 + 50) and z == pytest.approx(GROUND - 2)


def test_pipe_compliance(path, tmp_path):
    out, gj = tmp_path / "c.json", tmp_path / "c.geojson"
    r = cim("pipe-compliance", "--store", path, "--json", str(out), "--geojson", str(gj))
    assert "cover.gas.motor_lane" in r.stdout
    assert [v["id"] for v in json.loads(out.read_text())["violations"]] == ["cover:g"]
    assert json.loads(gj.read_text())["features"][0]["properties"]["required"] == 0.9
    rules = tmp_path / "rules.toml"
    rules.write_text("cover.gas.motor_lane = 0.4\n")
    r = cim("pipe-compliance", "--store", path, "--rules", str(rules))
    assert "0 violation(s)" in r.stdout


def test_errors_exit_2(path):
    r = cim(
        "underground-use", "--store", path, "--crs", "EPSG:4550", "--bbox", BBOX, "--bands", "15-30,0-15", check=False
    )
    assert r.returncode == 2 and "bands" in r.stderr
    r = cim("excavation", "--store", path, "--depth", "3", check=False)
    assert r.returncode == 2 and "--bbox or --region" in r.stderr
