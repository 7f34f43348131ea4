"""LAS 1.2-1.4 and LAZ point clouds: the terrain DEM from the ground points, and the building points.

The file is read in chunks of :data:`CHUNK` points, so memory stays bounded whatever its size: each
chunk is transformed to the city CRS (vectorised, pyproj) and folded into per-cell sums on a grid
(:mod:`cim.io._las_grid`); only the building points (ASPRS class 6, usually a minority) are kept.

* **CRS**: the file's WKT record, else its GeoTIFF keys (``LasHeader.parse_crs(prefer_wkt=True)``),
  else ``--crs``, else an error asking for ``--crs``.  A CRS without an EPSG code (autzen's
  "NAD_1983_HARN_Lambert_Conformal_Conic", in feet) is used as it is.
* **Units**: horizontal coordinates go through pyproj; heights are multiplied by the vertical unit
  (:func:`cim.io.reproject.vertical_factor`: a projected CRS in feet without a vertical CRS has its
  heights in the same foot, international 0.3048 m or US survey 1200/3937 m).  A compound CRS whose
  vertical datum differs from the city's is kept without a shift and reported as a warning.
* **Terrain**: see :mod:`cim.io._las_grid`: mean of the class-2 points per cell, the cell size from
  their density; a lowest-point filter when no point is classified as ground.
* **Building points**: class 6, (n, 3) float metres in the city CRS, in ``ImportResult.building_points``.

LAZ is decompressed with lazrs' single-threaded backend: its multi-threaded one can hang a process
forked after using it (see ``shared/notes/PEERS.md``); set :data:`LAZ_BACKEND` to change that.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError, ProjError

from ._las_grid import CellGrid, GridTooLarge, base_cell, build_dem
from .base import ImportContext, ImportError_, ImportResult
from .registry import register
from .reproject import datum_warning, horizontal, resolve_crs, vertical_factor
from .vdatum import vertical_of_las

CHUNK = 1_000_000  # points per chunk
BUILDING_CLASS = 6
LAZ_BACKEND = "Lazrs"  # a laspy.LazBackend member name: "Lazrs" (one thread) or "LazrsParallel"


class LasReader:
    """ASPRS LAS 1.2-1.4 and LAZ (laspy + lazrs)."""

    name = "las"
    extensions = (".las", ".laz")
    description = "LAS/LAZ point cloud: terrain from the ground points (class 2), building points (class 6)"

    def sniff(self, head: bytes, path: Path) -> bool:
        return head[:4] == b"LASF"

    def read(self, path: Path, ctx: ImportContext) -> ImportResult:
        import laspy

        name = ctx.filename or path.name
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ImportError_(f"Cannot read the file: {exc.strerror}.", file=name) from None
        if size == 0:
            raise ImportError_("The file is empty.", file=name)
        with open(path, "rb") as fh:
            if fh.read(4) != b"LASF":
                raise ImportError_("Not a LAS or LAZ file: it does not start with the signature 'LASF'.", file=name)
        try:
            reader = laspy.open(
                str(path),
                laz_backend=getattr(laspy.LazBackend, LAZ_BACKEND),
                decompression_selection=(
                    laspy.DecompressionSelection.XY_RETURNS_CHANNEL
                    | laspy.DecompressionSelection.Z
                    | laspy.DecompressionSelection.CLASSIFICATION
                ),
            )
        except Exception as exc:  # laspy raises LaspyException, ValueError, struct.error... on a bad header
            raise ImportError_(
                f"The LAS header cannot be read ({_why(exc)}); the file is truncated or is not a valid LAS/LAZ file.",
                file=name,
            ) from None
        with reader:
            return self._read(reader, size, ctx, name)

    def _read(self, reader, size: int, ctx: ImportContext, name: str) -> ImportResult:  # noqa: C901 - predates the complexity gate (issue 14); split it when it next changes
        header = reader.header
        total = int(header.point_count)
        if ctx.max_points is not None and total > ctx.max_points:
            raise ImportError_(
                f"The file holds {total:,} points, more than this service takes in one file "
                f"({ctx.max_points:,}); split it or raise the limit.",
                file=name,
            )
        compressed = bool(header.are_points_compressed)
        if total == 0:
            raise ImportError_("The file holds no points.", file=name)
        if not compressed:
            rec, start = header.point_format.size, int(header.offset_to_point_data)
            # the point records end where the file ends, or where LAS 1.4's extended VLRs begin
            evlr = int(header.start_of_first_evlr or 0) if header.number_of_evlrs else 0
            end = evlr if start < evlr <= size else size
            held = max(0, (end - start) // rec)
            if held < total:
                raise ImportError_(
                    f"The header says {total:,} points but the file holds fewer ({held:,}): "
                    "it is truncated or its header is wrong.",
                    file=name,
                )
        warnings: list[str] = []
        src = _source_crs(header, ctx, name, warnings)
        city = ctx.city
        zf = vertical_factor(src)
        hsrc = horizontal(src)
        label = _crs_label(src)
        try:
            same = _epsg(hsrc) == city.crs_epsg
            tf = None if same else _transformer(hsrc.to_wkt(), city.crs_epsg)
            bounds = _city_bounds(header, tf)
        except (CRSError, ProjError) as exc:
            raise ImportError_(f"Cannot transform from {label} to EPSG:{city.crs_epsg}: {exc}.", file=name) from None
        vert = None if src.is_compound else vertical_of_las(header)
        w = datum_warning(src, city, vert)
        if w:
            warnings.append(w)
        elif not src.is_compound and vert is None:
            taken = city.vertical_datum or "the city's heights (its height datum is unknown)"
            warnings.append(f"the file declares no vertical datum: its heights were taken as {taken}")

        area = (bounds[2] - bounds[0]) * (bounds[3] - bounds[1]) if bounds else 1.0
        try:
            grid = CellGrid(base_cell(area, total, ctx.cell), bounds)
        except GridTooLarge as exc:
            raise ImportError_(f"The header's bounding box is too large: {exc}.", file=name) from None
        sx, sy, sz = (float(v) for v in header.scales)
        ox, oy, oz = (float(v) for v in header.offsets)
        building: list[np.ndarray] = []
        done = 0
        try:
            for chunk in reader.chunk_iterator(CHUNK):
                n = len(chunk)
                if n == 0:
                    break
                x = np.asarray(chunk.X, dtype=np.float64) * sx + ox
                y = np.asarray(chunk.Y, dtype=np.float64) * sy + oy
                z = (np.asarray(chunk.Z, dtype=np.float64) * sz + oz) * zf
                cls = np.asarray(chunk.classification, dtype=np.uint8)
                if tf is not None:
                    x, y = tf.transform(x, y)
                    x, y = np.asarray(x), np.asarray(y)
                if not (np.isfinite(x).all() and np.isfinite(y).all() and np.isfinite(z).all()):
                    raise ImportError_(
                        f"Points {done:,}-{done + n:,} cannot be placed in EPSG:{city.crs_epsg} "
                        f"(from {label}): wrong CRS?",
                        file=name,
                    )
                grid.add(x, y, z, cls)
                b = cls == BUILDING_CLASS
                if b.any():
                    building.append(np.column_stack([x[b], y[b], z[b]]))
                done += n
                ctx.report(0.95 * done / total)
        except ImportError_:
            raise
        except GridTooLarge as exc:
            raise ImportError_(f"The points do not fit a terrain grid: {exc}.", file=name) from None
        except Exception as exc:  # lazrs' LazrsError, laspy's ValueError on a short buffer, EOFError, ...
            raise ImportError_(
                f"The point data ends early or is corrupt after {done:,} of the {total:,} points "
                f"the header announces ({_why(exc)}).",
                file=name,
            ) from None
        if done < total:
            raise ImportError_(f"The header says {total:,} points but the file holds fewer ({done:,}).", file=name)

        terrain, how = build_dem(grid, ctx.cell)
        if terrain is None:
            warnings.append(f"no terrain made: {how}")
        elif grid.n_ground == 0:
            warnings.append(how)
        pts = np.concatenate(building) if building else None
        ctx.report(1.0)
        info = {
            "points": done,
            "ground_points": grid.n_ground,
            "building_points": 0 if pts is None else len(pts),
            "dem_cell": None if terrain is None else terrain.cell,
        }
        return ImportResult(
            terrain=terrain, building_points=pts, source_crs=label, warnings=warnings, info=info, grid=grid
        )


def _why(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text[:200]


def _epsg(crs: CRS) -> int | None:
    """The EPSG code of a CRS: its own identifier when it carries one, else pyproj's search (~0.1 s)."""
    ident = crs.to_json_dict().get("id")
    if isinstance(ident, dict) and ident.get("authority") == "EPSG":
        return int(ident["code"])
    return _search_epsg(crs.to_wkt())


@lru_cache(maxsize=32)
def _search_epsg(wkt: str) -> int | None:
    return CRS.from_wkt(wkt).to_epsg()


@lru_cache(maxsize=32)
def _transformer(src_wkt: str, dst_epsg: int) -> Transformer:
    """Source CRS -> the city CRS, (x, y) order; cached (setting one up takes ~0.1 s with a datum change)."""
    return Transformer.from_crs(CRS.from_wkt(src_wkt), CRS.from_epsg(dst_epsg), always_xy=True)


def _crs_label(crs: CRS) -> str:
    code = _epsg(crs)
    return f"EPSG:{code}" if code else crs.name


def _has_crs_records(header) -> bool:
    recs = list(header.vlrs) + list(header.evlrs or [])
    return any(getattr(r, "user_id", "") == "LASF_Projection" and r.record_id in (2112, 34735) for r in recs)


def _source_crs(header, ctx: ImportContext, name: str, warnings: list[str]) -> CRS:
    """The file's CRS (WKT first, then GeoTIFF keys), else ``--crs``, else ImportError_."""
    declared: CRS | None
    try:
        declared = header.parse_crs(prefer_wkt=True)
    except Exception:  # a malformed record: laspy or pyproj errors
        declared = None
    if declared is None and _has_crs_records(header):
        if ctx.crs is None:
            raise ImportError_(
                "The file's coordinate reference system records cannot be understood; give the "
                "CRS with --crs (for example --crs EPSG:7415).",
                file=name,
            )
        warnings.append(f"the file's CRS records cannot be understood; read in {ctx.crs} (--crs)")
    elif declared is not None and ctx.crs is not None:
        warnings.append(f"the file declares its CRS ({_crs_label(declared)}); --crs {ctx.crs} was not used")
    return resolve_crs(declared, ctx, what="LAS file")


def _city_bounds(header, tf: Transformer | None) -> tuple[float, float, float, float] | None:
    """The header's bounding box in the city CRS (None when the header's box is not usable)."""
    mins, maxs = (np.asarray(v, dtype=float) for v in (header.mins, header.maxs))
    if not (np.isfinite(mins).all() and np.isfinite(maxs).all()) or (maxs[:2] < mins[:2]).any():
        return None
    if tf is None:
        return float(mins[0]), float(mins[1]), float(maxs[0]), float(maxs[1])
    b = tf.transform_bounds(mins[0], mins[1], maxs[0], maxs[1], densify_pts=21)
    return tuple(float(v) for v in b) if all(math.isfinite(v) for v in b) else None  # type: ignore[return-value]


register(LasReader())

__all__ = ["LasReader", "CHUNK"]
