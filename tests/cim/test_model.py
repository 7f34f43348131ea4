"""Model validation: bad features are refused with a reason."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cim.model import Building, PipeSegment, UndergroundStructure

from ..common import rect


def test_roof_defaults_to_ground_plus_height():
    b = Building(id="a", footprint=rect(0, 0, 10, 10), ground_elevation=42.5, height=100.0)
    assert b.roof_elevation == 142.5


def test_closing_vertex_dropped():
    b = Building(id="a", footprint=[[(0, 0), (1, 0), (1, 1), (0, 0)]], ground_elevation=0, height=1)
    assert b.footprint[0] == [(0, 0), (1, 0), (1, 1)]


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"footprint": [[(0, 0), (1, 0)]]}, "at least 3"),
        ({"height": -1}, "greater than 0"),
        ({"height": float("nan")}, "finite"),
        ({"ground_elevation": float("inf")}, "finite"),
        ({"use": "castle"}, "residential"),
        ({"id": ""}, "at least 1"),
    ],
)
def test_bad_building(kwargs, fragment):
    base = {"id": "a", "footprint": rect(0, 0, 10, 10), "ground_elevation": 40.0, "height": 10.0}
    with pytest.raises(ValidationError, match=fragment):
        Building(**{**base, **kwargs})


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({}, "diameter or a box"),
        ({"width": 1.0}, "both width and section_height"),
        ({"diameter": 0.3, "width": 1.0, "section_height": 1.0}, "not both"),
        ({"diameter": 0.3, "centreline": [(0, 0, 1), (0, 0, 2)]}, "zero horizontal length"),
        ({"diameter": 0.3, "utility": "oil"}, "water"),
    ],
)
def test_bad_pipe(kwargs, fragment):
    base = {"id": "p", "utility": "water", "centreline": [(0, 0, 40), (10, 0, 40)]}
    with pytest.raises(ValidationError, match=fragment):
        PipeSegment(**{**base, **kwargs})


def test_structures_need_a_shape():
    with pytest.raises(ValidationError, match="footprint or a centreline"):
        UndergroundStructure(id="s", kind="basement")
    with pytest.raises(ValidationError, match="below top"):
        UndergroundStructure(id="s", kind="basement", footprint=rect(0, 0, 1, 1), top_elevation=1, bottom_elevation=2)
    with pytest.raises(ValidationError, match="section_height"):
        UndergroundStructure(id="s", kind="tunnel", centreline=[(0, 0, 0), (1, 0, 0)], section="box", width=2)
