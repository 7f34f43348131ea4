"""The `cim` command line, run as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx

from .conftest import _free_port


def cim(*args, env=None, check=True):
    return subprocess.run(
        [sys.executable, "-m", "cim.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=check,
    )


def test_init_then_info(tmp_path):
    path = tmp_path / "c.sqlite"
    cim("init", "--store", str(path), "--crs", "EPSG:4550", "--name", "Anshan", "--population", "1540000")
    info = json.loads(cim("info", "--json", env={"CIM_STORE": str(path)}).stdout)
    assert info["city"] == "Anshan" and info["crs"] == "EPSG:4550"
    assert set(info["counts"]) >= {"buildings", "pipes", "pipe-nodes", "underground-structures"}
    assert not any(info["counts"].values())
    # a second init refuses to overwrite, and says why
    again = cim("init", "--store", str(path), check=False)
    assert again.returncode == 2 and "already holds a city" in again.stderr


def test_init_rejects_geographic_crs(tmp_path):
    r = cim("init", "--store", str(tmp_path / "c.sqlite"), "--crs", "EPSG:4490", check=False)
    assert r.returncode == 2 and "projected" in r.stderr


def test_info_on_missing_store(tmp_path):
    r = cim("info", "--store", str(tmp_path / "nope.sqlite"), check=False)
    assert r.returncode == 2 and "No store" in r.stderr


def test_info_table(tiny_city_path):
    out = cim("info", "--store", str(tiny_city_path), env={"COLUMNS": "160"}).stdout
    assert "buildings" in out and "101" in out and "EPSG:4550" in out


def test_serve(tiny_city_path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cim.cli", "serve", "--store", str(tiny_city_path), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/collections/buildings/items/b-0-0", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read().decode()
                assert time.monotonic() < deadline, "cim serve did not answer within 60 s"
                time.sleep(0.3)
        assert r.status_code == 200 and r.json()["id"] == "b-0-0"
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_refuses_missing_store(tmp_path):
    r = cim("serve", "--store", str(tmp_path / "nope.sqlite"), check=False)
    assert r.returncode == 2 and "No store" in r.stderr
