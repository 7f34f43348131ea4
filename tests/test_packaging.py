"""Packaging: the library works with its core dependencies only, the `test` extra pulls every extra, one version."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OPTIONAL = (
    "typer",
    "rich",
    "fastapi",
    "starlette",
    "uvicorn",
    "pydantic_settings",
    "psycopg",
    "psycopg_pool",
    "laspy",
    "lazrs",
    "pyvista",
    "trimesh",
    "pandas",
    "api",
    "tiles",
    "sample_city",
)

BLOCKER = f"""
import sys, importlib.abc
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {OPTIONAL!r}:
            raise ModuleNotFoundError(f"blocked optional dependency: {{name}}", name=name)
        return None
sys.meta_path.insert(0, Block())
"""


def test_library_runs_on_core_dependencies_only(tiny_city_path):
    script = (
        BLOCKER
        + f"""
import cim
from cim.analysis import registry, processes
with cim.open({str(tiny_city_path)!r}) as city:
    n = len(city.features("buildings", filter="height > 150"))
    square = {{"type": "Polygon", "coordinates": [[[4627000, 535000], [4627000, 535100], [4627100, 535100],
              [4627100, 535000], [4627000, 535000]]]}}
    use = city.analyse("underground-use", region=square, crs="EPSG:4550")
    descriptions = [processes.description(a) for a in registry.analyses().values()]
print(n, round(use.area), len(descriptions))
"""
    )
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    n, area, described = r.stdout.split()
    assert int(n) == 50  # heights 3..300 m by 3: 153..300 m
    assert int(area) == 10_000 and int(described) >= 4


def test_extras_and_version():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = meta["optional-dependencies"]
    for name in ("cli", "server", "postgis", "las", "viz"):
        assert name in extras
    assert "cim-service[all]" in extras["test"]
    (listed,) = [e for e in extras["all"] if e.startswith("cim-service[")]
    assert set(listed[len("cim-service[") : -1].split(",")) >= set(extras) - {"all", "test"}
    core = " ".join(meta["dependencies"])
    for heavy in ("fastapi", "uvicorn", "psycopg", "laspy", "pyvista", "typer", "pandas"):
        assert heavy not in core
    assert (ROOT / "cim" / "py.typed").exists()
    changelog = (ROOT / "CHANGELOG.md").read_text()
    assert f"## {meta['version']}" in changelog
