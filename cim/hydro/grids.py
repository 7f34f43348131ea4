"""Rasters in and out: buildings burnt into a grid, depth grids as Cloud-Optimized GeoTIFFs, polygons of
masks.  A grid here follows :class:`cim.terrain.Terrain`: ``a[j, i]`` at the cell centre
``(x0 + i * cell, y0 + j * cell)``, row 0 southernmost."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

import numpy as np
import shapely

KEY = re.compile(r"^[0-9a-f]{8,64}$")


def _transform(x0: float, y0: float, cell: float, ny: int):
    from affine import Affine

    # GeoTIFF rows run north to south: the top edge is the last row's centre + half a cell
    return Affine(cell, 0.0, x0 - cell / 2, 0.0, -cell, y0 + (ny - 1) * cell + cell / 2)


def rasterize(geoms: list, x0: float, y0: float, cell: float, shape: tuple[int, int]) -> np.ndarray:
    """Index (1-based, 0 = none) of the polygon (shapely or GeoJSON-like) covering each cell centre, (ny, nx)
    int32."""
    if not geoms:
        return np.zeros(shape, dtype=np.int32)
    from rasterio.features import rasterize as _rasterize

    ny = shape[0]
    out = _rasterize(
        ((g, i + 1) for i, g in enumerate(geoms)),
        out_shape=shape,
        transform=_transform(x0, y0, cell, ny),
        fill=0,
        dtype="int32",
    )
    return out[::-1]


def polygons(mask: np.ndarray, x0: float, y0: float, cell: float) -> shapely.Geometry:
    """The cells of a boolean mask (ny, nx) as one (Multi)Polygon, metres."""
    from rasterio.features import shapes

    ny = mask.shape[0]
    m = np.ascontiguousarray(mask[::-1]).astype(np.uint8)
    parts = [shapely.geometry.shape(g) for g, v in shapes(m, mask=m > 0, transform=_transform(x0, y0, cell, ny))]
    return shapely.union_all(parts) if parts else shapely.Polygon()


def grid_dir() -> Path:
    """Where depth grids are written: ``CIM_GRID_DIR`` or ``<tmp>/cim-grids``."""
    d = Path(os.environ.get("CIM_GRID_DIR") or Path(tempfile.gettempdir()) / "cim-grids")
    d.mkdir(parents=True, exist_ok=True)
    return d


def grid_key(*parts: str) -> str:
    """A grid's key: the first 24 hex digits of the SHA-256 of ``parts`` (what the grid was computed from)."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:24]


def grid_path(key: str) -> Path | None:
    """The file of a grid key, or None when the key is malformed or nothing was written under it."""
    if not KEY.match(key):
        return None
    p = grid_dir() / f"{key}.tif"
    return p if p.is_file() else None


def write_cog(
    path: Path, a: np.ndarray, x0: float, y0: float, cell: float, epsg: int, *, nodata: float | None = None
) -> Path:
    """Write a float grid (ny, nx; row 0 south) as a Cloud-Optimized GeoTIFF (deflate, 256 px tiles,
    overviews), atomically."""
    import rasterio

    ny, nx = a.shape
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    profile = dict(
        driver="COG",
        width=nx,
        height=ny,
        count=1,
        dtype="float32",
        crs=f"EPSG:{epsg}",
        transform=_transform(x0, y0, cell, ny),
        compress="DEFLATE",
        blocksize=256,
        nodata=nodata,
    )
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(np.ascontiguousarray(a[::-1]).astype(np.float32), 1)
    os.replace(tmp, path)
    return path
