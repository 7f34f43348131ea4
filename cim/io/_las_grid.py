"""LiDAR points to a terrain DEM with bounded memory: per-cell sums on a growing grid, then a DEM.

Points arrive in chunks (city CRS, metres) and are folded into three arrays on a *base grid* of
``cell`` metres aligned to multiples of the cell size: the sum and count of ground heights (class 2)
and the lowest height of any non-noise point.  Nothing per point is kept.  At the end
:func:`build_dem` turns the grid into a :class:`~cim.terrain.Terrain`:

* **ground points present** (class 2): each DEM cell holds the mean height of its ground points.
  The DEM cell size follows the ground point density, ``max(1, round(2 * sqrt(area / n_ground)))``
  metres (a whole multiple of the base cell), where ``area`` is the area of the base cells that
  hold ground points; so about four ground points fall in a cell on average;
* **no point classified as ground**: a lowest-point filter.  The per-cell minimum on a ~2 m grid is
  opened morphologically (a minimum then a maximum filter over a ~21 m window, Zhang et al. 2003
  with one window): cells whose lowest point lies more than 1 m above the opened surface (roofs,
  canopy) are dropped, the rest are taken as ground.  Buildings wider than the window survive as
  ground: classify the file for such areas.

Cells without ground are filled by a multigrid harmonic interpolation (push-pull on an image
pyramid with neighbour-mean passes at every level, numpy only); cells more than 1.5 cells outside the convex
hull of the ground cells are NaN.  One ring of cells around the data is kept so that
:meth:`Terrain.sample` covers the data's whole extent.
"""

from __future__ import annotations

import math

import numpy as np
import shapely

from ..terrain import Terrain

MAX_CELLS = 16_000_000  # base-grid cells (16 bytes each): about 256 MB at most
FILTER_CELL = 2.0  # metres: grid of the lowest-point filter
FILTER_WINDOW = 21.0  # metres: window of its morphological opening
FILTER_DH = 1.0  # metres: a cell this far above the opened surface is not ground
NOISE_CLASSES = (7, 18)  # ASPRS low and high noise: never taken as terrain


class GridTooLarge(ValueError):
    """The points spread over more cells than :data:`MAX_CELLS`."""


def base_cell(area: float, n_points: int, wanted: float | None = None) -> float:
    """The base-grid cell (metres): 1 m, or the whole number of metres that keeps the grid under MAX_CELLS;
    a finer ``wanted`` DEM cell (``--cell 0.5``) where the grid stays under MAX_CELLS.

    ``area``: square metres the header's bounding box covers in the city CRS.
    """
    del n_points  # the base grid only has to be fine enough; its size bounds the memory
    base = float(max(1, math.ceil(math.sqrt(max(area, 1.0) / MAX_CELLS))))
    if wanted is not None and 0 < wanted < base and max(area, 1.0) / wanted**2 <= MAX_CELLS:
        return float(wanted)
    return base


class CellGrid:
    """Ground statistics on a grid of ``cell`` metres aligned to multiples of ``cell`` (city CRS).

    Cell ``[j, i]`` covers ``x in [(ix0 + i) * cell, (ix0 + i + 1) * cell)`` and likewise in y.  The grid
    grows as points arrive outside it (a header's bounding box may be wrong).
    """

    def __init__(self, cell: float, bounds: tuple[float, float, float, float] | None = None) -> None:
        self.cell = float(cell)
        self.ix0 = self.iy0 = 0
        self.sum = np.zeros((0, 0), dtype=np.float64)  # sum of ground heights
        self.cnt = np.zeros((0, 0), dtype=np.int32)  # number of ground points
        self.low = np.zeros((0, 0), dtype=np.float32)  # lowest non-noise height (+inf: none)
        self.n_ground = 0
        self.n_points = 0  # non-noise points folded in (the density of the lowest-point filter)
        self.hulls: list = []  # shapely polygons: the coverage of each survey folded in (mosaics)
        if bounds is not None:
            minx, miny, maxx, maxy = bounds
            self._grow(*self._index(np.array([minx, maxx]), np.array([miny, maxy])))

    def _index(self, x: np.ndarray, y: np.ndarray) -> tuple[int, int, int, int]:
        ix = np.floor(np.array([x.min(), x.max()]) / self.cell).astype(np.int64)
        iy = np.floor(np.array([y.min(), y.max()]) / self.cell).astype(np.int64)
        return int(ix[0]), int(ix[1]), int(iy[0]), int(iy[1])

    def _grow(self, ixmin: int, ixmax: int, iymin: int, iymax: int) -> None:
        ny, nx = self.sum.shape
        if nx == 0:
            self.ix0, self.iy0 = ixmin, iymin
            ix1, iy1 = ixmax + 1, iymax + 1
        else:
            if ixmin >= self.ix0 and iymin >= self.iy0 and ixmax < self.ix0 + nx and iymax < self.iy0 + ny:
                return
            ix1, iy1 = max(ixmax + 1, self.ix0 + nx), max(iymax + 1, self.iy0 + ny)
            ixmin, iymin = min(ixmin, self.ix0), min(iymin, self.iy0)
        new_nx, new_ny = ix1 - ixmin, iy1 - iymin
        if new_nx * new_ny > MAX_CELLS:
            raise GridTooLarge(
                f"the points spread over {new_nx * self.cell / 1000:.1f} km x "
                f"{new_ny * self.cell / 1000:.1f} km, more than a terrain grid of "
                f"{MAX_CELLS:,} cells of {self.cell:g} m can hold"
            )
        pad = (
            ((self.iy0 - iymin, iy1 - self.iy0 - ny), (self.ix0 - ixmin, ix1 - self.ix0 - nx))
            if nx
            else ((0, new_ny), (0, new_nx))
        )
        self.sum = np.pad(self.sum, pad)
        self.cnt = np.pad(self.cnt, pad)
        self.low = np.pad(self.low, pad, constant_values=np.inf)
        self.ix0, self.iy0 = ixmin, iymin

    def add(self, x: np.ndarray, y: np.ndarray, z: np.ndarray, cls: np.ndarray) -> None:
        """Fold one chunk in: (n,) x, y, z metres (city CRS) and (n,) ASPRS classes."""
        if len(x) == 0:
            return
        self._grow(*self._index(x, y))
        nx = self.sum.shape[1]
        flat = (np.floor(y / self.cell).astype(np.int64) - self.iy0) * nx + (
            np.floor(x / self.cell).astype(np.int64) - self.ix0
        )
        ground = cls == 2
        if ground.any():
            g = flat[ground]
            np.add.at(self.sum.reshape(-1), g, z[ground])
            np.add.at(self.cnt.reshape(-1), g, np.ones(len(g), dtype=np.int32))
            self.n_ground += int(len(g))
        keep = ~np.isin(cls, NOISE_CLASSES)
        np.minimum.at(self.low.reshape(-1), flat[keep], z[keep].astype(np.float32))
        self.n_points += int(keep.sum())

    # -- mosaics ------------------------------------------------------------------------------------
    def coverage(self) -> object:
        """The convex hull (shapely, city metres) of the cells that hold points."""
        have = np.isfinite(self.low) | (self.cnt > 0)
        if not have.any():
            return shapely.Polygon()
        vr, vc = _row_ends(have)
        x = (self.ix0 + vc + 0.5) * self.cell
        y = (self.iy0 + vr + 0.5) * self.cell
        return shapely.buffer(shapely.convex_hull(shapely.multipoints(np.column_stack([x, y]))), self.cell)

    def rebin(self, cell: float) -> CellGrid:
        """This grid on a base cell of ``cell`` metres (each cell's sums go to the cell holding its centre)."""
        if cell == self.cell:
            return self
        out = CellGrid(cell)
        out.n_points, out.hulls = self.n_points, list(self.hulls)
        have = np.isfinite(self.low) | (self.cnt > 0)
        if not have.any():
            return out
        j, i = np.nonzero(have)
        x = (self.ix0 + i + 0.5) * self.cell
        y = (self.iy0 + j + 0.5) * self.cell
        out._grow(*out._index(x, y))
        nx = out.sum.shape[1]
        flat = (np.floor(y / cell).astype(np.int64) - out.iy0) * nx + (np.floor(x / cell).astype(np.int64) - out.ix0)
        np.add.at(out.sum.reshape(-1), flat, self.sum[j, i])
        np.add.at(out.cnt.reshape(-1), flat, self.cnt[j, i])
        np.minimum.at(out.low.reshape(-1), flat, self.low[j, i])
        out.n_ground = int(out.cnt.sum())
        return out

    def overlay(self, newer: CellGrid) -> CellGrid:
        """A mosaic: ``newer``'s cells where it holds points, this grid's elsewhere (on the coarser base cell)."""
        cell = max(self.cell, newer.cell)
        old, new = self.rebin(cell), newer.rebin(cell)
        out = CellGrid(cell)
        for g in (old, new):
            if g.sum.size:
                ny, nx = g.sum.shape
                out._grow(g.ix0, g.ix0 + nx - 1, g.iy0, g.iy0 + ny - 1)
        for g in (old, new):  # the newer last: it wins where it holds points
            if not g.sum.size:
                continue
            ny, nx = g.sum.shape
            sl = (slice(g.iy0 - out.iy0, g.iy0 - out.iy0 + ny), slice(g.ix0 - out.ix0, g.ix0 - out.ix0 + nx))
            have = np.isfinite(g.low) | (g.cnt > 0)
            out.sum[sl] = np.where(have, g.sum, out.sum[sl])
            out.cnt[sl] = np.where(have, g.cnt, out.cnt[sl])
            out.low[sl] = np.where(have, g.low, out.low[sl])
        out.n_ground = int(out.cnt.sum())
        out.n_points = old.n_points + new.n_points
        out.hulls = (old.hulls or [old.coverage()]) + (new.hulls or [new.coverage()])
        return out

    def to_bytes(self) -> bytes:
        """The grid as compressed npz bytes (the store keeps it as the blob ``terrain/cells``)."""
        import io

        buf = io.BytesIO()
        hulls = self.hulls or [self.coverage()]
        np.savez_compressed(
            buf,
            meta=np.array([self.cell, self.ix0, self.iy0, self.n_points], dtype=np.float64),
            sum=self.sum,
            cnt=self.cnt,
            low=self.low,
            hulls=np.array([shapely.to_wkt(h) for h in hulls]),
        )
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> CellGrid:
        import io

        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            cell, ix0, iy0, n_points = (float(v) for v in z["meta"])
            g = cls(cell)
            g.ix0, g.iy0, g.n_points = int(ix0), int(iy0), int(n_points)
            g.sum, g.cnt, g.low = z["sum"], z["cnt"], z["low"]
            g.hulls = [shapely.from_wkt(str(w)) for w in z["hulls"]]
        g.n_ground = int(g.cnt.sum())
        return g


def _pool(a: np.ndarray, k: int, how: str = "sum", offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Reduce ``k x k`` blocks; ``offset`` cells of padding go before the data so blocks align globally."""
    if k == 1 and offset == (0, 0):
        return a
    fill = {"sum": 0, "min": np.inf, "max": -np.inf}[how]
    oy, ox = offset
    ny, nx = a.shape
    py, px = (-(ny + oy)) % k, (-(nx + ox)) % k
    a = np.pad(a, ((oy, py), (ox, px)), constant_values=fill)
    b = a.reshape(a.shape[0] // k, k, a.shape[1] // k, k)
    return {"sum": b.sum, "min": b.min, "max": b.max}[how](axis=(1, 3))


def _filter1d(a: np.ndarray, w: int, axis: int, how: str) -> np.ndarray:
    """Running minimum or maximum over ``w`` (odd) cells along an axis; ±inf pads the edges."""
    h = w // 2
    fill = np.inf if how == "min" else -np.inf
    pad = [(0, 0), (0, 0)]
    pad[axis] = (h, h)
    win = np.lib.stride_tricks.sliding_window_view(np.pad(a, pad, constant_values=fill), w, axis=axis)
    return win.min(axis=-1) if how == "min" else win.max(axis=-1)


def lowest_point_ground(low: np.ndarray, cell: float) -> np.ndarray:
    """Which cells of a per-cell-minimum grid are ground: (ny, nx) bool (see the module docstring)."""
    have = np.isfinite(low)
    w = 2 * max(1, round(FILTER_WINDOW / cell / 2)) + 1
    eroded = _filter1d(_filter1d(low, w, 0, "min"), w, 1, "min")
    eroded = np.where(np.isfinite(eroded), eroded, -np.inf)
    opened = _filter1d(_filter1d(eroded, w, 0, "max"), w, 1, "max")
    return have & (low - opened <= FILTER_DH)


def _relax(val: np.ndarray, fixed: np.ndarray, n: int) -> np.ndarray:
    """``n`` Jacobi passes of the 4-neighbour mean over the cells not ``fixed`` (edges mirrored)."""
    for _ in range(n):
        p = np.pad(val, 1, mode="edge")
        mean = (p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]) * 0.25
        val = np.where(fixed, val, mean)
    return val


def fill_holes(z: np.ndarray, valid: np.ndarray, passes: int = 8) -> np.ndarray:
    """Fill cells where ``valid`` is False from their surroundings; values at valid cells are kept.

    A multigrid harmonic fill: the valid cells are averaged down an image pyramid (push) until every
    cell of a level has data; coming back up (pull), each level's empty cells start from the coarser
    level and relax for ``passes`` neighbour-mean passes.  A plane comes back as the plane; the cost
    is a few passes over the grid.  z: (ny, nx) float; valid: (ny, nx) bool with at least one True.
    """
    if valid.all():
        return z.astype(np.float64)
    levels = []
    s, w = np.where(valid, z, 0.0).astype(np.float64), valid.astype(np.float64)
    while True:
        levels.append((s, w))
        if (w > 0).all() or s.shape == (1, 1):
            break
        s, w = _pool(s, 2), _pool(w, 2)
    s, w = levels[-1]
    val = np.where(w > 0, s / np.where(w > 0, w, 1.0), np.nan)
    for s, w in reversed(levels[:-1]):
        up = np.repeat(np.repeat(val, 2, axis=0), 2, axis=1)[: s.shape[0], : s.shape[1]]
        have = w > 0
        val = _relax(np.where(have, s / np.where(have, w, 1.0), up), have, passes)
    return val


def _row_ends(valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the first and the last True cell of every row that has one."""
    r = np.nonzero(valid.any(axis=1))[0]
    first = valid[r].argmax(axis=1)
    last = valid.shape[1] - 1 - valid[r, ::-1].argmax(axis=1)
    return np.concatenate([r, r]), np.concatenate([first, last])


def dem_cell(area: float, n_ground: int, base: float) -> float:
    """DEM cell size, metres: ``max(1, round(2 * sqrt(area / n_ground)))`` as a whole multiple of ``base``."""
    c = max(1.0, float(round(2.0 * math.sqrt(area / max(n_ground, 1)))))
    return base * max(1, round(c / base))


def _density_k(occ: np.ndarray, n: int, grid: CellGrid, k: int) -> int:
    """DEM cell in base cells from the point density: the occupied area is counted again on the coarser
    grid until the size settles (fine cells undercount the area of sparse points); at least ``k``."""
    b = grid.cell
    for _ in range(6):
        off = (grid.iy0 % k, grid.ix0 % k)
        area = float((_pool(occ, k, "sum", off) > 0).sum()) * (k * b) ** 2
        k_new = round(dem_cell(area, n, b) / b)
        if k_new <= k:
            break
        k = k_new
    return k


def build_dem(grid: CellGrid, cell: float | None = None) -> tuple[Terrain | None, str]:
    """The terrain DEM from an accumulated grid, and how its ground was found ("class 2" or a filter note).

    ``cell``: the DEM cell size, metres (rounded to a whole multiple of the base cell); None: from the
    point density.  Returns (None, reason) when no DEM can be made (no points, or all in one cell).
    """
    b = grid.cell
    want = None if cell is None else max(1, round(cell / b))
    if grid.sum.size == 0:
        return None, "the file holds no points"
    if grid.n_ground > 0:
        # the ground's area: occupied cells, counted again on the coarser grid until the size settles
        # (fine cells undercount the area of sparse points)
        k = want or _density_k(grid.cnt.astype(np.float64), grid.n_ground, grid, 1)
        cell = k * b
        off = (grid.iy0 % k, grid.ix0 % k)
        s, c = _pool(grid.sum, k, "sum", off), _pool(grid.cnt, k, "sum", off)
        valid = c > 0
        z = np.where(valid, s / np.where(valid, c, 1), np.nan)
        how = f"{grid.n_ground:,} ground points (class 2)"
    else:
        # the filter grid: 2 m, or coarser for sparse points (about twice their mean spacing)
        k0 = max(1, round(FILTER_CELL / b))
        k = want or _density_k(np.isfinite(grid.low).astype(np.float64), max(grid.n_points, 1), grid, k0)
        cell = k * b
        off = (grid.iy0 % k, grid.ix0 % k)
        low = _pool(grid.low, k, "min", off).astype(np.float64)
        valid = lowest_point_ground(low, cell)
        z = np.where(valid, low, np.nan)
        how = (
            f"no point is classified as ground: a lowest-point filter on a {cell:g} m grid took "
            f"{int(valid.sum()):,} cells as ground"
        )
    if not valid.any():
        return None, "no ground found"
    gy0, gx0 = (grid.iy0 - off[0]) // k, (grid.ix0 - off[1]) // k  # global index of block [0, 0]
    rows, cols = np.nonzero(valid)
    r0, c0 = int(rows.min()), int(cols.min())
    z = np.pad(z[r0 : rows.max() + 1, c0 : cols.max() + 1], 1, constant_values=np.nan)  # one ring around the data
    valid = np.pad(valid[r0 : rows.max() + 1, c0 : cols.max() + 1], 1)
    ny, nx = z.shape
    x0 = (gx0 + c0 - 1 + 0.5) * cell
    y0 = (gy0 + r0 - 1 + 0.5) * cell
    filled = fill_holes(z, valid)
    # NaN beyond the convex hull of the data cells (1.5 cells of margin)
    vr, vc = _row_ends(valid)  # the hull of the data cells is the hull of each row's first and last
    hull = shapely.convex_hull(shapely.multipoints(np.column_stack([x0 + vc * cell, y0 + vr * cell])))
    zone = shapely.buffer(hull, 1.5 * cell)
    if len(grid.hulls) > 1:  # a mosaic: each survey's own coverage, not the hull of all of them
        zone = shapely.intersection(zone, shapely.buffer(shapely.union_all(grid.hulls), 1.5 * cell))
    gx, gy = np.meshgrid(x0 + np.arange(nx) * cell, y0 + np.arange(ny) * cell)
    inside = shapely.contains_xy(zone, gx, gy)
    filled = np.where(inside | valid, filled, np.nan)
    return Terrain(float(x0), float(y0), float(cell), filled.astype(np.float32)), how
