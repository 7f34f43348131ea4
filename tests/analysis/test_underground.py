"""Underground use by depth band: analytic volumes (numpy level and through every store backend)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely

from cim.analysis.solids import (
    Solids,
    circle_area_below,
    clip_segments,
    grid_pieces,
    ground_sampler,
    section_area_between,
)
from cim.analysis.underground import DEFAULT_BANDS, check_bands, occupancy, underground_use
from cim.errors import InvalidParameter
from tests.common import X0, Y0

from .underground_cases import GROUND, basement, flat_terrain, manhole, pipe, sloping_split, tunnel, utility_tunnel

GROUND_FN = ground_sampler(flat_terrain())


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def volumes(features, polygon, bands=((0.0, 15.0), (15.0, 30.0), (30.0, 50.0)), **kw) -> list[dict[str, float]]:
    res = occupancy(Solids.from_features(features), polygon, list(bands), ground=GROUND_FN, **kw)
    return [{f.id: f.volume for f in b.features} for b in res]


# -- the section and plan primitives ---------------------------------------------------------------------
def test_circle_area_below_is_the_circular_segment():
    r = np.full(5, 2.0)
    got = circle_area_below(np.array([-3.0, -2.0, 0.0, 2.0, 9.0]), r)
    assert got == pytest.approx([0.0, 0.0, 2 * math.pi, 4 * math.pi, 4 * math.pi])
    # a chord one radius/2 above the centre: the segment above it is r^2 (acos(1/2) - 1/2 sqrt(3/4))
    above = 4 * math.pi - circle_area_below(np.array([1.0]), np.array([2.0]))[0]
    assert above == pytest.approx(4 * (math.acos(0.5) - 0.5 * math.sqrt(0.75)))


def test_section_area_between_adds_up():
    hw, hh = np.array([0.5, 0.4]), np.array([0.5, 0.2])
    circ = np.array([True, False])
    cuts = np.array([-1.0, -0.1, 0.05, 0.3, 1.0])
    parts = [
        section_area_between(np.full(2, lo), np.full(2, hi), hw, hh, circ)
        for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)
    ]
    assert np.sum(parts, axis=0) == pytest.approx([math.pi * 0.25, 0.8 * 0.4])
    assert parts[1][1] == pytest.approx(0.8 * 0.15)  # box: -0.1 .. 0.05


def test_clip_segments_is_exact_on_a_concave_region():
    ell = shapely.Polygon([(0, 0), (10, 0), (10, 4), (4, 4), (4, 10), (0, 10)])
    a = np.array([[-5.0, 2.0, 0.0], [2.0, -5.0, 10.0], [1.0, 1.0, 5.0]])
    b = np.array([[15.0, 2.0, 20.0], [2.0, 15.0, 30.0], [1.0, 1.0, 7.0]])  # the last is vertical
    a2, b2, idx = clip_segments(a, b, ell)
    lengths = np.bincount(idx, np.linalg.norm(b2[:, :2] - a2[:, :2], axis=1), minlength=3)
    assert lengths == pytest.approx([10.0, 10.0, 0.0])
    i = np.flatnonzero(idx == 0)[0]
    assert a2[i] == pytest.approx([0.0, 2.0, 5.0]) and b2[i] == pytest.approx([10.0, 2.0, 15.0])  # z interpolated
    assert 2 in idx  # the vertical piece counts whole


def test_grid_pieces_keep_the_area():
    polys = np.array([shapely.Point(0, 0).buffer(7.3), shapely.box(0, 0, 3, 3)], dtype=object)
    pieces, owner = grid_pieces(polys, 2.5)
    assert np.bincount(owner, shapely.area(pieces)) == pytest.approx(shapely.area(polys))


# -- analytic volumes ------------------------------------------------------------------------------------
def test_horizontal_pipe_inside_the_region():
    d, length = 0.6, 100.0
    p = pipe("p", [(20, 50, GROUND - 2), (20 + length, 50, GROUND - 2)], d)
    v = volumes([p], box(0, 0, 200, 200))
    assert v[0]["p"] == pytest.approx(math.pi * d * d / 4 * length, rel=5e-3)
    assert v[0]["p"] == pytest.approx(math.pi * d * d / 4 * length, rel=1e-7)  # in fact exact
    assert v[1] == {} and v[2] == {}


def test_pipe_half_across_the_edge_counts_half():
    d, length = 0.6, 100.0
    p = pipe("p", [(-50, 50, GROUND - 2), (50, 50, GROUND - 2)], d)
    v = volumes([p], box(0, 0, 200, 200))
    assert v[0]["p"] == pytest.approx(math.pi * d * d / 4 * length / 2, rel=5e-3)
    # a diagonal pipe across an oblique edge: the inside share of the centreline, exactly
    q = pipe("q", [(0, 0, GROUND - 3), (100, 100, GROUND - 3)], d)
    tri = shapely.Polygon([(X0 + 30, Y0 - 10), (X0 + 200, Y0 - 10), (X0 + 200, Y0 + 300)])
    inside = shapely.intersection(tri, shapely.LineString([(X0, Y0), (X0 + 100, Y0 + 100)])).length
    assert 25 < inside < 35
    assert volumes([q], tri)[0]["q"] == pytest.approx(math.pi * d * d / 4 * inside, rel=1e-7)


def test_box_section_and_mixed_multi_vertex_pipe():
    p = pipe(
        "duct",
        [(10, 10, GROUND - 1.5), (60, 10, GROUND - 1.5), (60, 40, GROUND - 1.5)],
        None,
        "power",
        width=0.8,
        section_height=0.4,
    )
    assert volumes([p], box(0, 0, 100, 100))[0]["duct"] == pytest.approx(0.8 * 0.4 * 80.0)


def test_pipe_on_a_band_boundary_splits_by_the_circular_segment():
    d = 1.0
    z = GROUND - 15.0 + 0.25  # axis 0.25 m above the 15 m boundary
    p = pipe("p", [(10, 50, z), (110, 50, z)], d)
    v = volumes([p], box(0, 0, 200, 200))
    r = d / 2
    below = circle_area_below(np.array([-0.25]), np.array([r]))[0] * 100  # part under the plane at z - 0.25
    assert v[1]["p"] == pytest.approx(below, rel=1e-7)
    assert v[0]["p"] == pytest.approx(math.pi * r * r * 100 - below, rel=1e-7)


@pytest.mark.parametrize("step", [0.5, 0.1])
def test_sloping_pipe_across_a_band_boundary_matches_the_analytic_integral(step):
    d = 1.0
    z0, z1 = GROUND - 14.0, GROUND - 15.3  # the axis crosses the 15 m boundary 77 % of the way along
    p = pipe("p", [(10, 50, z0), (110, 50, z1)], d)
    length = math.hypot(100.0, z1 - z0)
    above, below = sloping_split(d, length, z0, z1, GROUND - 15.0)
    v = volumes([p], box(0, 0, 200, 200), step=step)
    assert v[0]["p"] == pytest.approx(above, rel=1e-5)
    assert v[1]["p"] == pytest.approx(below, rel=1e-4)
    assert v[0]["p"] + v[1]["p"] == pytest.approx(math.pi / 4 * length, rel=1e-7)


def test_basement_prism_split_across_bands():
    b = basement("b", 10, 10, 20, 30, GROUND, GROUND - 20.0)  # 0-20 m deep: 15 m in the first band, 5 in the second
    v = volumes([b], box(0, 0, 200, 200))
    assert v[0]["b"] == pytest.approx(20 * 30 * 15) and v[1]["b"] == pytest.approx(20 * 30 * 5) and v[2] == {}
    # half of it outside the region: half of each
    v = volumes([b], box(20, 0, 200, 200))
    assert v[0]["b"] == pytest.approx(10 * 30 * 15) and v[1]["b"] == pytest.approx(10 * 30 * 5)
    # a station box 24 m down, roof 7 m down, in an L-shaped region
    s = basement("st", 0, 0, 100, 20, GROUND - 7.0, GROUND - 24.0, kind="station")
    ell = shapely.Polygon(
        [
            (X0 + 50, Y0 - 5),
            (X0 + 150, Y0 - 5),
            (X0 + 150, Y0 + 10),
            (X0 + 60, Y0 + 10),
            (X0 + 60, Y0 + 40),
            (X0 + 50, Y0 + 40),
        ]
    )
    inside = shapely.intersection(ell, shapely.box(X0, Y0, X0 + 100, Y0 + 20)).area
    v = volumes([s], ell)
    assert v[0]["st"] == pytest.approx(inside * 8) and v[1]["st"] == pytest.approx(inside * 9)


def test_chambers_tunnels_and_categories():
    feats = [
        manhole("m", 50, 50, 4.0, 1.2),
        manhole("edge", 0, 80, 2.0, 1.0),
        tunnel("t", [(-20, 100, GROUND - 18), (220, 100, GROUND - 18)], 6.0),
        utility_tunnel(),
    ]
    res = occupancy(Solids.from_features(feats), box(0, 0, 200, 400), [(0.0, 15.0), (15.0, 30.0)], ground=GROUND_FN)
    v = [{f.id: f.volume for f in b.features} for b in res]
    assert v[0]["m"] == pytest.approx(math.pi * 0.36 * 4.0)
    assert v[0]["edge"] == pytest.approx(math.pi * 0.25 * 2.0 / 2, rel=2e-3)  # half the disc is inside
    r = 3.0
    assert v[1]["t"] == pytest.approx(200 * math.pi * r * r, rel=1e-7)  # its crown touches the 15 m boundary
    assert "t" not in v[0]
    assert v[0]["utl"] == pytest.approx(4.0 * 3.0 * 200)
    assert res[0].by_category == pytest.approx({"utility_tunnel": v[0]["utl"], "manhole": v[0]["m"] + v[0]["edge"]})
    assert res[1].by_category == pytest.approx({"tunnel": v[1]["t"]})
    assert [f.category for f in res[0].features] == ["utility_tunnel", "manhole", "manhole"]  # largest first
    assert res[0].soil_volume == pytest.approx(200 * 400 * 15)
    assert res[0].ratio == pytest.approx(res[0].occupied_volume / res[0].soil_volume, rel=1e-6)


def test_elevation_band_and_its_soil_volume():
    p = pipe("p", [(10, 50, GROUND - 2), (110, 50, GROUND - 2)], 0.6)
    res = occupancy(
        Solids.from_features([p]),
        box(0, 0, 100, 100),
        [(GROUND - 2.0, GROUND - 10.0)],
        reference="elevation",
        ground=GROUND_FN,
    )
    assert res[0].features[0].volume == pytest.approx(math.pi * 0.09 * 90 / 2)  # the lower half of the section
    assert res[0].soil_volume == pytest.approx(100 * 100 * 8)
    above = occupancy(
        Solids.from_features([p]),
        box(0, 0, 100, 100),
        [(GROUND + 10, GROUND - 1.0)],
        reference="elevation",
        ground=GROUND_FN,
    )
    assert above[0].soil_volume == pytest.approx(100 * 100 * 1.0)  # only the part below the ground is soil


# -- bands -----------------------------------------------------------------------------------------------
def test_default_bands_are_gb_t_51358():
    assert check_bands(None) == [(0.0, 15.0), (15.0, 30.0), (30.0, 50.0), (50.0, 100.0)] == list(DEFAULT_BANDS)


@pytest.mark.parametrize(
    "bands",
    [
        [],
        [[0, 15, 30]],
        [[15, 0]],
        [[0, 15], [10, 30]],
        [[15, 30], [0, 15]],
        [[-1, 5]],
        [[0, float("nan")]],
        [[0, 5000]],
    ],
)
def test_bad_bands(bands):
    with pytest.raises(InvalidParameter) as e:
        check_bands(bands)
    assert e.value.parameter == "bands"


# -- through the store (every backend) ------------------------------------------------------------------
def test_underground_use_from_the_store(empty_store):
    d = 0.6
    feats = [
        pipe("in", [(20, 50, GROUND - 2), (120, 50, GROUND - 2)], d),
        pipe("half", [(-50, 60, GROUND - 3), (50, 60, GROUND - 3)], d, "sewer"),
        pipe("slope", [(10, 70, GROUND - 14.0), (110, 70, GROUND - 15.3)], 1.0, "storm"),
        pipe("far", [(400, 400, GROUND - 2), (450, 400, GROUND - 2)], d),
        pipe("deep", [(20, 90, GROUND - 80), (120, 90, GROUND - 80)], d),
        basement("b", 10, 110, 20, 30, GROUND, GROUND - 20.0),
        manhole("m", 150, 150, 4.0, 1.2),
    ]
    empty_store.write(feats, terrain=flat_terrain())
    res = underground_use(empty_store, box(0, 0, 200, 200), bands=[[0, 15], [15, 30], [30, 50]])
    v = [{f.id: f.volume for f in b.features} for b in res.bands]
    area = math.pi * d * d / 4
    assert v[0]["in"] == pytest.approx(area * 100, rel=5e-3)
    assert v[0]["half"] == pytest.approx(area * 50, rel=5e-3)
    length = math.hypot(100.0, 1.3)
    above, below = sloping_split(1.0, length, GROUND - 14.0, GROUND - 15.3, GROUND - 15.0)
    assert v[0]["slope"] == pytest.approx(above, rel=1e-4) and v[1]["slope"] == pytest.approx(below, rel=1e-4)
    assert v[0]["b"] == pytest.approx(20 * 30 * 15) and v[1]["b"] == pytest.approx(20 * 30 * 5)
    assert v[0]["m"] == pytest.approx(math.pi * 0.36 * 4)
    assert "far" not in v[0] and all("deep" not in x for x in v)  # outside the region, below the last band
    assert res.bands[0].by_category.keys() == {"basement", "storm", "water", "sewer", "manhole"}
    assert res.bands[0].soil_volume == pytest.approx(200 * 200 * 15) and res.area == pytest.approx(200 * 200)
    # absolute elevations instead of depths
    res = underground_use(empty_store, box(0, 0, 200, 200), z_min=GROUND - 2.0, z_max=GROUND)
    assert {f.id: f.volume for f in res.bands[0].features}["in"] == pytest.approx(area * 100 / 2, rel=5e-3)
    assert res.bands[0].reference == "elevation"


def test_underground_use_checks_its_input(empty_store):
    empty_store.write([], terrain=None)
    with pytest.raises(InvalidParameter) as e:  # no terrain: depths cannot be measured
        underground_use(empty_store, box(0, 0, 100, 100))
    assert e.value.parameter == "bands"
    with pytest.raises(InvalidParameter) as e:
        underground_use(empty_store, box(0, 0, 100, 100), bands=[[0, 5]], z_min=1, z_max=2)
    assert e.value.parameter == "bands"
    with pytest.raises(InvalidParameter) as e:
        underground_use(empty_store, box(0, 0, 100, 100), z_min=5, z_max=1)
    assert e.value.parameter == "z_min"
    with pytest.raises(InvalidParameter) as e:
        underground_use(empty_store, box(0, 0, 3000, 3000), z_min=0, z_max=1, max_area_km2=4)
    assert e.value.parameter == "region"
    res = underground_use(empty_store, box(0, 0, 100, 100), z_min=0, z_max=10)  # no terrain, elevations: fine
    assert res.terrain is False and res.bands[0].occupied_volume == 0
