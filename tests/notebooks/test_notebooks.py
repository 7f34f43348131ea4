"""The example notebooks run top to bottom against the sample city, and their screenshots show something.

Each notebook runs in a fresh kernel of this interpreter (nbclient, ipykernel), with ``CIM_STORE`` set to the
session's sample city and ``CIM_SCREENSHOT_DIR`` to a temporary folder; every PNG it saves is checked: the
size asked for, real contrast (pixel standard deviation) and many colours, not a blank or single-colour frame.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("pyvista")
pytest.importorskip("pandas")

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOTEBOOKS = {
    "quickstart": ["quickstart.png"],
    "underground": ["excavation.png", "underground.png"],
    "highrise": ["highrise.png"],
    "flood": ["ponding.png"],
    "sunlight": ["sunlight.png"],
}
CELL_TIMEOUT = 300


def check_screenshot(path: Path) -> None:
    from PIL import Image

    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.shape[0] >= 400 and img.shape[1] >= 600, f"{path.name}: {img.shape}"
    assert img.std() > 20, f"{path.name} looks blank (pixel std {img.std():.1f})"
    colours = len(np.unique(img.reshape(-1, 3)[::7], axis=0))
    assert colours > 50, f"{path.name} has only {colours} colours"
    not_bg = (np.abs(img.astype(int) - img[0, 0]).sum(axis=2) > 30).mean()
    assert not_bg > 0.1, f"{path.name}: only {not_bg:.0%} of the image differs from the background"


@pytest.mark.parametrize("name", list(NOTEBOOKS))
def test_notebook_runs(name, sample_city_path, tmp_path, monkeypatch):
    path = EXAMPLES / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code"), (
        f"{path.name} is committed with outputs: strip them"
    )
    shots = tmp_path / "shots"
    monkeypatch.setenv("CIM_STORE", str(sample_city_path))
    monkeypatch.setenv("CIM_SCREENSHOT_DIR", str(shots))
    monkeypatch.delenv("DISPLAY", raising=False)
    NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(EXAMPLES)}}
    ).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, json.dumps(errors)[:2000]
    for shot in NOTEBOOKS[name]:
        assert (shots / shot).exists(), f"{name} saved no {shot}"
        check_screenshot(shots / shot)
    if os.environ.get("CIM_KEEP_SCREENSHOTS"):  # to refresh docs/img by hand
        keep = Path(os.environ["CIM_KEEP_SCREENSHOTS"])
        keep.mkdir(parents=True, exist_ok=True)
        for shot in NOTEBOOKS[name]:
            (keep / shot).write_bytes((shots / shot).read_bytes())
