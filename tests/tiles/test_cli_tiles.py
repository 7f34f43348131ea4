"""``cim tiles build`` as a real process: a folder and a zip, the server's layout."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile


def cim(*args):
    return subprocess.run([sys.executable, "-m", "cim.cli", *args], capture_output=True, text=True, timeout=300)


def test_build_into_a_folder(tiny_city_path, tmp_path):
    out = tmp_path / "3dtiles"
    r = cim("tiles", "build", "--store", str(tiny_city_path), "--out", str(out), "--gzip", "--json")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert [x["layer"] for x in summary["layers"]] == ["buildings", "pipes", "underground-structures", "terrain"]
    assert {x["layer"]: x["features"] for x in summary["layers"]}["buildings"] == 101
    for layer in ("buildings", "pipes", "underground-structures", "terrain"):
        doc = json.loads((out / layer / "tileset.json").read_text())
        assert doc["extras"]["version"] == summary["version"]
        uri = doc["root"]["content"]["uri"]
        assert uri.startswith(f"v{summary['version']}/")
        assert (out / layer / uri).is_file() and (out / layer / (uri + ".gz")).is_file()


def test_build_one_layer_into_a_zip(tiny_city_path, tmp_path):
    out = tmp_path / "tiles.zip"
    r = cim("tiles", "build", "--store", str(tiny_city_path), "--out", str(out), "--layer", "pipes")
    assert r.returncode == 0, r.stderr
    assert "pipes" in r.stdout
    names = zipfile.ZipFile(out).namelist()
    assert "pipes/tileset.json" in names and all(n.startswith("pipes/") for n in names)


def test_unknown_layer_is_refused(tiny_city_path, tmp_path):
    r = cim("tiles", "build", "--store", str(tiny_city_path), "--out", str(tmp_path), "--layer", "roads")
    assert r.returncode == 2 and "roads" in r.stderr
