"""Placement checks: is imported data where its CRS says it can be, and where the city is?

Every import (:func:`cim.io.importer.import_files`) calls :func:`check_result` on each file's content once
it is in the city CRS.  It refuses, naming the file, the CRS, where the data would land (lon/lat) and the
likely cause, when

* a coordinate is not finite (a transformation failed);
* the data lies outside the area of use of the CRS it was read in (pyproj ``area_of_use``, widened by
  :data:`MARGIN_DEG`): a wrong CRS, a wrong unit (feet, millimetres) or swapped axes;
* the data lies outside the area of use of the city CRS (same margin): the city's projection would
  distort lengths and areas there.  ``force=True`` (``--force``) imports anyway with a warning giving the
  scale distortion (pyproj ``Proj.get_factors``).

The likely cause is found by trying the usual mistakes on a few sample points (the data's box corners and
centre, taken back into the source CRS): swapped axes, feet or US survey feet taken as metres and the
reverse, millimetres or centimetres taken as metres.

:func:`choose_axis_order` picks the axis order of a file in a northing-first CRS (GML writes coordinates
in the CRS's official order, but many real files write easting first): the order whose points fall in
the CRS's area of use.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import numpy as np
from pyproj import CRS, Transformer

from ..encoded import Encoded
from ..model import Building, City, PipeNode, PipeSegment, UndergroundStructure
from .base import ImportError_, ImportResult

MARGIN_DEG = 1.0  # degrees added on every side of an area of use
Z_RANGE = (-1000.0, 9000.0)  # metres: heights outside this are units or datum mistakes (Dead Sea to Everest, deep)
FT, USFT = 0.3048, 1200 / 3937

AXIS_ORDERS = ("auto", "en", "ne")


def area_of_use(crs: CRS) -> tuple[float, float, float, float] | None:
    """(west, south, east, north) in degrees of a CRS (its horizontal part for a compound without one)."""
    a = crs.area_of_use
    if a is None and crs.is_compound:
        a = crs.sub_crs_list[0].area_of_use
    if a is None:
        return None
    return float(a.west), float(a.south), float(a.east), float(a.north)


def _inside(lon: np.ndarray, lat: np.ndarray, box: tuple[float, float, float, float], margin: float) -> np.ndarray:
    """(n,) bool: points inside ``box`` widened by ``margin`` degrees (a box crossing the antimeridian too)."""
    w, s, e, n = box
    ok_lat = (lat >= s - margin) & (lat <= n + margin)
    if w <= e:
        ok_lon = (lon >= w - margin) & (lon <= e + margin)
    else:  # crosses 180°
        ok_lon = (lon >= w - margin) | (lon <= e + margin)
    return ok_lat & ok_lon & np.isfinite(lon) & np.isfinite(lat)


@lru_cache(maxsize=64)
def _to_lonlat(src_wkt: str) -> Transformer:
    return Transformer.from_crs(_horizontal(CRS.from_wkt(src_wkt)), CRS.from_epsg(4326), always_xy=True)


@lru_cache(maxsize=64)
def _from_city(city_epsg: int, dst_wkt: str) -> Transformer:
    return Transformer.from_crs(CRS.from_epsg(city_epsg), _horizontal(CRS.from_wkt(dst_wkt)), always_xy=True)


def _horizontal(crs: CRS) -> CRS:
    if crs.is_compound:
        return crs.sub_crs_list[0]
    if crs.is_geographic and len(crs.axis_info) == 3:
        return crs.to_2d()
    return crs


def lonlat(xy: np.ndarray, crs: CRS) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) x/east, y/north in ``crs`` -> (lon, lat) degrees, each (n,); non-finite where it fails."""
    with np.errstate(all="ignore"):
        lon, lat = _to_lonlat(crs.to_wkt()).transform(xy[:, 0], xy[:, 1], errcheck=False)
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    lon[~np.isfinite(lat)] = np.nan
    return lon, lat


def fits(xy: np.ndarray, crs: CRS, margin: float = MARGIN_DEG) -> bool | None:
    """Whether every (x/east, y/north) point of ``xy`` (n, 2) lies in the area of use of ``crs``;
    None when the CRS has no area of use."""
    box = area_of_use(crs)
    if box is None:
        return None
    if not np.isfinite(xy).all():
        return False
    lon, lat = lonlat(xy, crs)
    return bool(_inside(lon, lat, box, margin).all())


def choose_axis_order(xy: np.ndarray, crs: CRS, wanted: str = "auto") -> str:
    """The axis order of (n, 2) coordinates given in a northing-first CRS: "ne" (official) or "en".

    ``wanted`` "ne" or "en" is taken as it is; "auto" tries both against the CRS's area of use: the one
    that fits, else "ne" (the placement check then refuses the file).  Both fitting is ambiguous and
    raises ImportError_ asking for ``--axis-order``.
    """
    if wanted in ("ne", "en"):
        return wanted
    pts = _sample(xy)
    ne = fits(pts[:, ::-1], crs)  # official order: column 0 is northing
    en = fits(pts, crs)
    if ne is None or ne == en:
        if ne and en and not np.allclose(pts[:, 0], pts[:, 1]):
            raise ImportError_(
                f"The coordinates fit {crs.name} both as (northing, easting) and as (easting, northing); "
                "say which with --axis-order ne or --axis-order en."
            )
        return "ne"
    return "ne" if ne else "en"


def _sample(xy: np.ndarray, k: int = 64) -> np.ndarray:
    """Up to ``k`` rows of (n, 2) ``xy`` spread over the array, plus the box corners of the finite ones."""
    xy = np.asarray(xy, dtype=float)[:, :2]
    if len(xy) == 0:
        return xy
    pick = xy[np.linspace(0, len(xy) - 1, min(k, len(xy))).astype(int)]
    fin = xy[np.isfinite(xy).all(axis=1)]
    if len(fin):
        lo, hi = fin.min(axis=0), fin.max(axis=0)
        pick = np.vstack([pick, [lo, hi, [lo[0], hi[1]], [hi[0], lo[1]]]])
    return pick


def feature_xy(features: Iterable[Any]) -> tuple[np.ndarray, list[str]]:
    """Every planar point of the features, (n, 2) metres city CRS, and the ids of the features that have any
    (in order; for messages)."""
    pts: list = []
    owners: list[str] = []
    chunks: list[np.ndarray] = []  # the points so far, as arrays (encoded features carry theirs)
    for f in features:
        if isinstance(f, Encoded):
            if pts:
                chunks.append(np.asarray(pts, dtype=float).reshape(-1, 2))
                pts = []
            if len(f.xy):
                chunks.append(f.xy)
                owners.append(f.id)
            continue
        n = len(pts)
        if isinstance(f, Building):
            for ring in f.footprint:
                pts.extend(ring)
        elif isinstance(f, PipeSegment):
            pts.extend(p[:2] for p in f.centreline)
        elif isinstance(f, PipeNode):
            pts.append(f.position[:2])
        elif isinstance(f, UndergroundStructure):
            for ring in f.footprint or []:
                pts.extend(ring)
            pts.extend(p[:2] for p in f.centreline or [])
        if len(pts) > n:
            owners.append(getattr(f, "id", "?"))
    if pts:
        chunks.append(np.asarray(pts, dtype=float).reshape(-1, 2))
    if not chunks:
        return np.zeros((0, 2)), owners
    return np.concatenate(chunks), owners


def result_xy(result: ImportResult) -> np.ndarray:
    """The points to check of one file's content, (n, 2) city metres: features, terrain box, building points."""
    parts = [feature_xy(result.features)[0]]
    if result.terrain is not None:
        x0, y0, _, x1, y1, _ = result.terrain.bounds
        parts.append(np.array([[x0, y0], [x1, y1], [x0, y1], [x1, y0]], dtype=float))
    bp = result.building_points
    if bp is not None and len(bp):
        parts.append(np.vstack([bp[:, :2].min(axis=0), bp[:, :2].max(axis=0)]))
    return np.concatenate(parts) if parts else np.zeros((0, 2))


def result_z(result: ImportResult) -> np.ndarray:
    """Heights of one file's content, metres: building grounds and roofs, pipe and node z, terrain and point range."""
    zs: list[float] = []
    for f in result.features:
        if isinstance(f, Encoded):
            zs += f.z
        elif isinstance(f, Building):
            zs += [f.ground_elevation, f.roof_elevation or f.ground_elevation]
        elif isinstance(f, PipeSegment):
            zs += [p[2] for p in (f.centreline[0], f.centreline[-1])]
        elif isinstance(f, PipeNode):
            zs.append(f.position[2])
        elif isinstance(f, UndergroundStructure):
            zs += [v for v in (f.top_elevation, f.bottom_elevation) if v is not None]
    if result.terrain is not None:
        _, _, z0, _, _, z1 = result.terrain.bounds
        zs += [z0, z1]
    bp = result.building_points
    if bp is not None and len(bp):
        zs += [float(bp[:, 2].min()), float(bp[:, 2].max())]
    return np.asarray(zs, dtype=float)


def _where(lon: np.ndarray, lat: np.ndarray) -> str:
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return "nowhere on Earth (the coordinates cannot be transformed to longitude/latitude)"
    return f"around lon {np.median(lon[ok]):.4f}, lat {np.median(lat[ok]):.4f}"


def _box_text(box: tuple[float, float, float, float]) -> str:
    w, s, e, n = box
    return f"lon {w:g} to {e:g}, lat {s:g} to {n:g}"


def crs_code(crs: CRS) -> str:
    """``EPSG:n`` of a CRS (``EPSG:a+b`` for a compound without a code of its own), else its name."""
    code = crs.to_epsg()
    if code is not None:
        return f"EPSG:{code}"
    if crs.is_compound:
        parts = [c.to_epsg() for c in crs.sub_crs_list]
        if all(parts):
            return "EPSG:" + "+".join(str(p) for p in parts)
    return crs.name


def _label(crs: CRS) -> str:
    code = crs.to_epsg()
    if code is None and crs.is_compound:
        parts = [c.to_epsg() for c in crs.sub_crs_list]
        if all(parts):
            return "EPSG:" + "+".join(str(p) for p in parts)
    return f"EPSG:{code} ({crs.name})" if code else crs.name


def likely_cause(src_xy: np.ndarray, src: CRS) -> str:
    """What mistake would put (n, 2) source-CRS points (x/east, y/north) into ``src``'s area of use."""
    tries = [
        (
            src_xy[:, ::-1],
            "the axes are swapped (northing written first, or the reverse): for GML use --axis-order en or ne, "
            "other formats write easting first",
        ),
        (src_xy * FT, "the coordinates are in international feet but were read as metres: give the right CRS"),
        (src_xy * USFT, "the coordinates are in US survey feet but were read as metres: give the right CRS"),
        (src_xy / FT, "the coordinates are in metres but the CRS is in feet: give the right CRS"),
        (src_xy / 1000, "the coordinates are in millimetres, not metres"),
        (src_xy / 100, "the coordinates are in centimetres, not metres"),
    ]
    for xy, why in tries:
        if fits(xy, src):
            return why
    return (
        f"the file's coordinates are not in {_label(src)}: give the right CRS with --source-crs "
        "(or --crs for a file that declares none)"
    )


def check_result(
    result: ImportResult, src: CRS | None, city: City, file: str, *, force: bool = False, axis_note: str | None = None
) -> list[str]:
    """Refuse misplaced content (ImportError_ naming file, CRS, lon/lat and the likely cause); return
    warnings (city-CRS distortion under ``force``)."""
    xy = result_xy(result)
    if len(xy) == 0:
        return []
    city_crs = CRS.from_epsg(city.crs_epsg)
    bad = ~np.isfinite(xy).all(axis=1)
    if bad.any():
        owner = None
        fxy, owners = feature_xy(result.features)
        if len(fxy) and not np.isfinite(fxy).all():
            owner = owners[0] if len(owners) == 1 else None
        raise ImportError_(
            f"{int(bad.sum()):,} coordinates cannot be placed in {city.crs} (they are not finite after reading "
            f"in {_label(src) if src is not None else 'the source CRS'}): wrong CRS or units.",
            file=file,
            feature=owner,
            crs=_label(src) if src is not None else None,
        )
    pts = _sample(xy)
    lon, lat = lonlat(pts, city_crs)
    where = _where(lon, lat)
    z = result_z(result)
    z = z[np.isfinite(z)]
    if len(z) and (z.min() < Z_RANGE[0] or z.max() > Z_RANGE[1]):
        raise ImportError_(
            f"Heights from {z.min():,.1f} m to {z.max():,.1f} m: outside {Z_RANGE[0]:g} to {Z_RANGE[1]:g} m, no place "
            f"on Earth. Likely cause: the heights are in another unit (millimetres, centimetres, feet) or the vertical "
            f"CRS is wrong; give the right CRS with --source-crs (e.g. a compound EPSG:28992+5709). The data would "
            f"land {where}. Nothing was imported.",
            file=file,
            crs=_label(src) if src is not None else city.crs,
        )
    if src is not None and (box := area_of_use(src)) is not None:
        if not _inside(lon, lat, box, MARGIN_DEG).all():
            try:
                with np.errstate(all="ignore"):
                    sx, sy = _from_city(city.crs_epsg, src.to_wkt()).transform(pts[:, 0], pts[:, 1], errcheck=False)
                src_xy = np.column_stack([sx, sy])
                cause = likely_cause(src_xy, src) if np.isfinite(src_xy).all() else "wrong CRS or units"
            except Exception:  # noqa: BLE001 - the cause is a hint only
                cause = "wrong CRS or units"
            note = f" ({axis_note})" if axis_note else ""
            raise ImportError_(
                f"The data would land {where}, outside the area of use of {_label(src)}{note} "
                f"({_box_text(box)}). Likely cause: {cause}. Nothing was imported.",
                file=file,
                crs=_label(src),
            )
    warnings: list[str] = []
    cbox = area_of_use(city_crs)
    if cbox is not None and not _inside(lon, lat, cbox, MARGIN_DEG).all():
        scale = _scale(city_crs, lon, lat)
        text = (
            f"the data lies {where}, outside the area of use of the city CRS {_label(city_crs)} "
            f"({_box_text(cbox)}); there the city's projection scales lengths by {scale[0]:.3f} and areas by "
            f"{scale[1]:.3f}"
        )
        if not force:
            raise ImportError_(
                f"The data would land {where}, outside the area of use of the city CRS {_label(city_crs)} "
                f"({_box_text(cbox)}): there its projection scales lengths by {scale[0]:.3f} and areas by "
                f"{scale[1]:.3f}. Likely cause: the city was made with another CRS (cim init --crs) or the file "
                "is from elsewhere. Import anyway with --force. Nothing was imported.",
                file=file,
                crs=city.crs,
            )
        warnings.append(text + " (--force)")
    return warnings


def _scale(crs: CRS, lon: np.ndarray, lat: np.ndarray) -> tuple[float, float]:
    """(length, area) scale factors of ``crs``'s projection at the median of the points (1, 1 if unknown)."""
    from pyproj import Proj

    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any() or not crs.is_projected:
        return 1.0, 1.0
    try:
        f = Proj(crs).get_factors(float(np.median(lon[ok])), float(np.median(lat[ok])))
    except Exception:  # noqa: BLE001
        return 1.0, 1.0
    length = math.sqrt(f.meridional_scale * f.parallel_scale)
    return length, f.areal_scale
