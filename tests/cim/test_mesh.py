"""cim.mesh: solids of every feature type, closed and outward-facing, with their real sizes."""

from __future__ import annotations

import numpy as np
import pytest

from cim.mesh import (
    Mesh,
    Profile,
    building_meshes,
    feature_meshes,
    node_meshes,
    pipe_meshes,
    simplify_line,
    structure_meshes,
    sweep,
    terrain_mesh,
)
from cim.model import Building, PipeNode, PipeSegment, Surface, UndergroundStructure

from .. import common

trimesh = pytest.importorskip("trimesh")


def closed(mesh: Mesh):
    """The mesh with coincident vertices merged (flat shading duplicates them), as trimesh."""
    t = trimesh.Trimesh(mesh.vertices, mesh.faces, process=False)
    t.merge_vertices(merge_tex=True, merge_norm=True)
    return t


def test_faces_agree_with_normals():
    m = feature_meshes(common.all_features())
    v = m.vertices[m.faces]
    geo = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    ref = m.normals[m.faces].sum(axis=1)
    assert (np.einsum("ij,ij->i", geo, ref) >= 0).all()
    assert np.allclose(np.linalg.norm(m.normals, axis=1), 1, atol=1e-5)
    assert m.ids == [f.id for f in common.all_features()]


def test_extrusion_with_a_hole_is_a_closed_prism_of_the_right_volume():
    b = Building(
        id="ring",
        footprint=[[(0, 0), (30, 0), (30, 20), (0, 20)], [(10, 5), (10, 15), (20, 15), (20, 5)]],
        ground_elevation=40,
        height=12,
    )
    m = building_meshes([b])
    t = closed(m)
    assert t.is_watertight and t.is_winding_consistent
    assert t.volume == pytest.approx((600 - 100) * 12)
    assert m.vertices[:, 2].min() == 40 and m.vertices[:, 2].max() == 52


def test_clockwise_footprints_face_outwards_too():
    b = Building(id="cw", footprint=[[(0, 0), (0, 10), (10, 10), (10, 0)]], ground_elevation=0, height=5)
    assert closed(building_meshes([b])).volume == pytest.approx(500)


def test_lod2_surfaces_keep_their_vertices_and_area():
    rings = [
        [(0, 0, 0), (10, 0, 0), (10, 10, 0), (0, 10, 0)][::-1],
        [(0, 0, 0), (10, 0, 0), (10, 0, 5), (0, 0, 5)],
        [(0, 0, 5), (10, 0, 5), (10, 10, 5), (0, 10, 5)],
    ]
    b = Building(
        id="s",
        footprint=[[(0, 0), (10, 0), (10, 10), (0, 10)]],
        ground_elevation=0,
        height=5,
        surfaces=[Surface(type=t, rings=[r]) for t, r in zip(["ground", "wall", "roof"], rings, strict=True)],
    )
    m = building_meshes([b])
    assert len(m.vertices) == 12 and len(m.faces) == 6
    assert closed(m).area == pytest.approx(100 + 50 + 100)
    roof = m.vertices[:, 2] == 5
    assert np.allclose(m.normals[roof & (m.vertices[:, 1] > 0)], [0, 0, 1])  # the roof faces up
    assert np.allclose(building_meshes([b], lod="1").bounds()[1], [10, 10, 5])


@pytest.mark.parametrize("sides", [8, 12, 16])
def test_a_straight_pipe_is_a_closed_ngon_tube(sides):
    r = 0.25
    m = sweep(
        [np.array([[0, 0, 40.0], [100, 0, 39.0]])],
        Profile.circle(sides),
        np.array([r]),
        np.array([r]),
        np.array([0]),
        np.array([[0, 0, 255, 255]]),
        ["p"],
    )
    t = closed(m)
    assert t.is_watertight
    length = np.hypot(100, 1)
    assert t.volume == pytest.approx(sides / 2 * r * r * np.sin(2 * np.pi / sides) * length, rel=1e-6)


def test_pipes_box_sections_manholes_and_tunnels_have_their_sizes():
    pipes = {p.id: p for p in common.pipes()}
    m = pipe_meshes([pipes["p-diag"]])  # a 1.0 x 0.8 box
    length = np.linalg.norm(np.diff(pipes["p-diag"].coords(), axis=0))
    assert closed(m).volume == pytest.approx(1.0 * 0.8 * length, rel=1e-6)
    m = pipe_meshes([pipes["p-water"]])
    assert m.colors[0].tolist() == [0, 176, 240, 255]
    z = m.vertices[:, 2]
    assert z.max() - z.min() == pytest.approx(0.3, abs=1e-9)  # n-gon vertices at the top and at the bottom
    nodes = common.nodes()
    m = node_meshes(nodes[:1])
    assert m.vertices[:, 2].min() == pytest.approx(42.0) and m.vertices[:, 2].max() == pytest.approx(45.0)
    m = structure_meshes(common.structures())
    t = closed(m.subset([0]))
    assert t.volume == pytest.approx(20 * 20 * 8)
    tunnel = closed(m.subset([1]))
    assert tunnel.volume == pytest.approx(8 * 3.5 * 500)


def test_a_bent_pipe_is_mitred_without_gaps():
    line = np.array([[0, 0, 40.0], [50, 0, 40.0], [50, 50, 40.0]])
    m = sweep([line], Profile.box(), np.array([1.0]), np.array([0.5]), np.array([0]), np.array([[1, 2, 3, 255]]), ["b"])
    t = closed(m)
    assert t.is_watertight
    assert t.volume == pytest.approx(2 * 1 * (50 + 50), rel=1e-6)  # the mitre adds and removes equal wedges


def test_junctions_have_no_solid():
    j = PipeNode(id="j", kind="junction", utility="water", position=(0, 0, 45), depth=1.5)
    m = node_meshes([j])
    assert m.is_empty and m.ids == ["j"]


def test_simplify_line_stays_within_tolerance():
    x = np.linspace(0, 100, 201)
    line = np.column_stack([x, np.zeros_like(x), 40 + 0.001 * np.sin(x)])
    s = simplify_line(line, 0.01)
    assert len(s) == 2 and np.allclose(s[[0, -1]], line[[0, -1]])


def test_split_and_subset_keep_features_apart():
    feats = common.buildings()[:5]
    m = building_meshes(feats)
    parts = m.split(np.array([1, 0, 1, -1, 0]), 2)
    assert parts[0].ids == ["b-0-1", "b-0-4"] and parts[1].ids == ["b-0-0", "b-0-2"]
    for part in parts:
        assert part.faces.max() < len(part.vertices)
        assert set(np.unique(part.feature)) == {0, 1}
    assert np.allclose(parts[1].subset([1]).vertices, building_meshes([feats[2]]).vertices)


def test_terrain_mesh_follows_the_dem_at_every_step():
    t = common.terrain()
    for step in (1, 3, 8):
        m = terrain_mesh(t, step)
        assert np.allclose(t.sample(m.vertices[:, :2]), m.vertices[:, 2], atol=1e-4)
        assert m.vertices[:, 0].max() == t.bounds[3] and m.vertices[:, 1].max() == t.bounds[4]
    m = terrain_mesh(t, 2, window=(10, 10, 30, 21))
    assert len(m.vertices) == 11 * 7
    assert np.all(m.normals[:, 2] > 0.99)


def test_underground_structure_types():
    s = UndergroundStructure(
        id="metro", kind="tunnel", centreline=[(0, 0, 30), (100, 0, 30), (200, 50, 29)], section="circular", width=6.0
    )
    m = structure_meshes([s])
    assert m.vertices[:, 2].max() == pytest.approx(33, abs=0.05)
    assert m.vertices[:, 2].min() == pytest.approx(26, abs=0.05)
    assert m.colors[0].tolist() == [230, 140, 60, 255]


def test_pipe_segment_model_is_meshed_through_feature_meshes():
    p = PipeSegment(id="x", utility="gas", centreline=[(0, 0, 40), (10, 0, 40)], diameter=0.2)
    m = feature_meshes([p])
    assert m.colors[0].tolist() == [255, 100, 200, 255] and m.ids == ["x"]
