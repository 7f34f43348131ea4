"""Terrain sampling is bilinear and exact on planes; the TIN covers the grid."""

from __future__ import annotations

import numpy as np

from cim.terrain import Terrain


def plane(a=45.0, bx=0.01, by=-0.02):
    xs, ys = 1000 + 5 * np.arange(21), 2000 + 5 * np.arange(11)
    gx, gy = np.meshgrid(xs, ys)
    return Terrain(1000.0, 2000.0, 5.0, (a + bx * (gx - 1000) + by * (gy - 2000)).astype(np.float64))


def test_sample_is_exact_on_a_plane():
    t = plane()
    rng = np.random.default_rng(1)
    xy = np.column_stack([rng.uniform(1000, 1100, 200), rng.uniform(2000, 2050, 200)])
    np.testing.assert_allclose(t.sample(xy), 45 + 0.01 * (xy[:, 0] - 1000) - 0.02 * (xy[:, 1] - 2000), atol=1e-9)


def test_sample_outside_is_nan():
    z = plane().sample(np.array([[999.0, 2010.0], [1050.0, 2051.0], [1100.0, 2050.0]]))
    assert np.isnan(z[0]) and np.isnan(z[1]) and np.isfinite(z[2])


def test_tin_area_and_round_trip():
    t = plane()
    verts, faces = t.tin()
    a, b, c = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    u, v = b - a, c - a
    cross_z = u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]
    assert np.isclose(0.5 * np.abs(cross_z).sum(), 100 * 50)
    assert (cross_z > 0).all()  # counter-clockwise from above
    back = Terrain.from_bytes(t.to_bytes())
    np.testing.assert_allclose(back.z, t.z.astype(np.float32))
    assert t.tin(step=2)[1].shape[0] == 2 * 10 * 5
