"""Fixtures for the tiles tests: the sample city's layers tiled once, the Khronos glTF validator."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from cim.store import open_store
from tiles import MemorySink, build_layer, city_frame
from tiles.gltf import read_accessor, read_glb, read_property_table

ROOT = Path(__file__).resolve().parents[2]
VIEWER = ROOT / "viewer"


def _missing(what: str) -> None:
    """Skip, or fail under CI (where `make test` installs everything)."""
    if os.environ.get("CI"):
        pytest.fail(f"{what} (CI must have it: `make test` installs it)")
    pytest.skip(what)


def validate_glbs(paths: list[Path]) -> dict[str, dict]:
    """The Khronos glTF validator's report per file: {path: {numErrors, numWarnings, errors, warnings}}."""
    if shutil.which("node") is None:
        _missing("node is not installed: the glTF validator cannot run")
    if not (VIEWER / "node_modules" / "gltf-validator").is_dir():
        _missing("gltf-validator is not installed: run `make install` (npm ci in viewer/)")
    out: dict[str, dict] = {}
    for k in range(0, len(paths), 200):
        proc = subprocess.run(
            ["node", str(VIEWER / "validate.js"), *map(str, paths[k : k + 200])],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        out.update(json.loads(proc.stdout))
    return out


@pytest.fixture(scope="session")
def sample_tiles(sample_city_path):
    """Every layer of the sample city tiled into memory: {layer: (sink, result)}."""
    store = open_store(sample_city_path)
    frame = city_frame(store)
    built = {}
    for name in ("buildings", "pipes", "underground-structures", "terrain"):
        sink = MemorySink()
        built[name] = (sink, build_layer(store, name, sink, frame=frame, prefix="v1/"))
    store.close()
    return built


def glb_vertices(data: bytes) -> tuple[np.ndarray, np.ndarray | None, dict, dict]:
    """(positions (n, 3) y-up with the node translation applied, feature ids (n,) or None, property table, doc)."""
    doc, binary = read_glb(data)
    prim = doc["meshes"][0]["primitives"][0]
    pos = read_accessor(doc, binary, prim["attributes"]["POSITION"]).astype(float)
    pos = pos + np.asarray(doc["nodes"][0].get("translation", [0, 0, 0]))
    fid = prim["attributes"].get("_FEATURE_ID_0")
    feature = None if fid is None else read_accessor(doc, binary, fid).astype(int)
    table = read_property_table(doc, binary) if "extensions" in doc else {}
    return pos, feature, table, doc
