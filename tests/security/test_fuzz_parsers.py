"""Property tests for the parsers: any input gives features or a clean ImportError_, never another
exception.  Inputs are random bytes and random mutations (cuts, deleted lines, replaced numbers) of
the real files in ../shared/data."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cim.io import ImportContext, ImportError_, read
from cim.model import City

from ..conftest import shared_data

# (format, file under ../shared/data, city CRS, --crs)
CASES = {
    "cityjson": (("buildings", "multi_lod.json"), 28992, "EPSG:7415"),
    "geojson": (("pipes", "bellinge_small_nodes.geojson"), 32632, None),
    "epanet": (("pipes", "Net1.inp"), 4550, "EPSG:4550"),
    "swmm": (("pipes", "bellinge_small.inp"), 32632, "EPSG:32632"),
}
NUMBER = re.compile(rb"-?\d+(\.\d+)?")
JUNK = st.sampled_from([b"NaN", b"1e999", b"-1e999", b"abc", b"", b"\x00", b"[", b"}", b'"x"', b"-0", b"1e-320"])

_DIR = Path(tempfile.mkdtemp(prefix="cim-fuzz-parsers-"))


def _read(fmt: str, data: bytes) -> None:
    (_, epsg, crs) = CASES[fmt]
    path = _DIR / f"input.{fmt}"
    path.write_bytes(data)
    try:
        result = read(path, ImportContext(city=City(crs_epsg=epsg), crs=crs), fmt=fmt)
    except ImportError_ as exc:
        assert exc.message and exc.where.get("file")
        return
    for f in result.features:  # whatever was read is a valid feature
        type(f).model_validate(f.model_dump())


@st.composite
def mutated(draw, original: bytes) -> bytes:
    data = original
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["cut", "line", "number", "insert"]))
        if kind == "cut":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "line" and data:
            lines = data.splitlines(keepends=True)
            k = draw(st.integers(0, len(lines) - 1))
            data = b"".join(lines[:k] + lines[k + 1 :])
        elif kind == "number":
            nums = list(NUMBER.finditer(data))
            if nums:
                m = nums[draw(st.integers(0, len(nums) - 1))]
                data = data[: m.start()] + draw(JUNK) + data[m.end() :]
        else:
            at = draw(st.integers(0, len(data)))
            data = data[:at] + draw(JUNK) + data[at:]
    return data


@pytest.mark.parametrize("fmt", list(CASES))
@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutations_of_real_files(fmt, data):
    original = shared_data(*CASES[fmt][0]).read_bytes()
    _read(fmt, data.draw(mutated(original)))


@pytest.mark.parametrize("fmt", list(CASES))
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(blob=st.binary(max_size=2048))
def test_random_bytes(fmt, blob):
    _read(fmt, blob)
