"""Terrain as a DEM grid: vectorised elevation sampling and a TIN for display."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from .typed import ArrayNx2, FloatArray, IntArray


@dataclass(frozen=True)
class Terrain:
    """A regular DEM grid in the city CRS.

    ``z[j, i]`` is the elevation (metres, city vertical datum) at the cell centre
    ``(x0 + i * cell, y0 + j * cell)``; row 0 is the southernmost.  NaN marks no data.
    """

    x0: float
    y0: float
    cell: float
    z: np.ndarray  # (ny, nx) float32

    def __post_init__(self) -> None:
        if self.z.ndim != 2 or min(self.z.shape) < 2:
            raise ValueError("terrain grid must be 2-D with at least 2 x 2 cells")
        if not self.cell > 0:
            raise ValueError("terrain cell size must be positive")

    @property
    def shape(self) -> tuple[int, int]:
        return self.z.shape  # type: ignore[return-value]

    @property
    def bounds(self) -> tuple[float, float, float, float, float, float]:
        """(minx, miny, minz, maxx, maxy, maxz) of the grid's cell centres, metres."""
        ny, nx = self.z.shape
        return (
            self.x0,
            self.y0,
            float(np.nanmin(self.z)),
            self.x0 + (nx - 1) * self.cell,
            self.y0 + (ny - 1) * self.cell,
            float(np.nanmax(self.z)),
        )

    def sample(self, xy: ArrayNx2) -> FloatArray:
        """Bilinear elevation at points.

        Parameters
        ----------
        xy : (n, 2) float, metres, city CRS.

        Returns
        -------
        (n,) float, metres; NaN outside the grid.
        """
        xy = np.atleast_2d(np.asarray(xy, dtype=float))
        ny, nx = self.z.shape
        fx = (xy[:, 0] - self.x0) / self.cell
        fy = (xy[:, 1] - self.y0) / self.cell
        inside = (fx >= 0) & (fx <= nx - 1) & (fy >= 0) & (fy <= ny - 1)
        i = np.clip(np.floor(fx).astype(np.int64), 0, nx - 2)
        j = np.clip(np.floor(fy).astype(np.int64), 0, ny - 2)
        tx, ty = fx - i, fy - j
        z = self.z  # the four corners are cast to float64, not the whole grid (a copy per call)
        out = (
            z[j, i].astype(np.float64) * (1 - tx) * (1 - ty)
            + z[j, i + 1].astype(np.float64) * tx * (1 - ty)
            + z[j + 1, i].astype(np.float64) * (1 - tx) * ty
            + z[j + 1, i + 1].astype(np.float64) * tx * ty
        )
        return np.where(inside, out, np.nan)

    def tin(self, step: int = 1) -> tuple[FloatArray, IntArray]:
        """The grid (every ``step``-th node) as triangles.

        Returns (vertices (m, 3) float metres, faces (k, 3) int), counter-clockwise seen from above.
        """
        zs = self.z[::step, ::step]
        ny, nx = zs.shape
        xs = self.x0 + np.arange(nx) * self.cell * step
        ys = self.y0 + np.arange(ny) * self.cell * step
        gx, gy = np.meshgrid(xs, ys)
        verts = np.column_stack([gx.ravel(), gy.ravel(), zs.astype(np.float64).ravel()])
        idx = np.arange(ny * nx).reshape(ny, nx)
        a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
        c, d = idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
        faces = np.concatenate([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
        keep = ~np.isnan(verts[faces, 2]).any(axis=1)
        return verts, faces[keep]

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez_compressed(buf, meta=np.array([self.x0, self.y0, self.cell]), z=self.z.astype(np.float32))
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Terrain:
        with np.load(io.BytesIO(data)) as f:
            x0, y0, cell = (float(v) for v in f["meta"])
            return cls(x0, y0, cell, f["z"])
