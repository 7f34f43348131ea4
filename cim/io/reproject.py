"""Source CRS resolution and reprojection of file coordinates into the city CRS (metres).

Horizontal coordinates go through pyproj.  Heights are converted to metres (US survey and
international feet); a vertical datum other than the city's is kept without a shift and reported
as a warning, since no transformation between, say, NAP and the 1985 national datum exists.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError

from ..model import City
from ..typed import FloatArray
from .base import ImportContext, ImportError_


def resolve_crs(declared: str | CRS | None, ctx: ImportContext, *, what: str = "file") -> CRS:
    """The CRS to read a file in: the one it declares, else ``ctx.crs`` (``--crs``), else an error.

    A ``--crs`` given by the user wins over a file that declares none; a file's own declaration wins
    otherwise (``--crs`` then only fills gaps).  ``ctx.source_crs`` (``--source-crs``) overrides both.
    The CRS used is kept in ``ctx.resolved_crs`` for the placement check.
    """
    crs = _resolve(declared, ctx, what)
    ctx.resolved_crs = crs
    return crs


def _resolve(declared: str | CRS | None, ctx: ImportContext, what: str) -> CRS:
    src = ctx.source_crs if ctx.source_crs is not None else declared if declared is not None else ctx.crs
    if src is None:
        raise ImportError_(
            f"The {what} declares no coordinate reference system; give one with --crs (for example --crs EPSG:7415).",
            file=ctx.filename,
        )
    if isinstance(src, CRS):
        return src
    try:
        return _parse(str(src))
    except CRSError:
        raise ImportError_(f"Unknown coordinate reference system {src!r}.", file=ctx.filename) from None


@lru_cache(maxsize=64)
def _parse(text: str) -> CRS:
    from ..crs import normalise

    norm = normalise(text)
    return CRS.from_user_input(
        norm if not norm.startswith("http") else norm.replace("http://www.opengis.net/def/crs/EPSG/0/", "EPSG:")
    )


def horizontal(crs: CRS) -> CRS:
    """The horizontal part of a (possibly compound or 3-D) CRS."""
    if crs.is_compound:
        return crs.sub_crs_list[0]
    if crs.is_geographic and len(crs.axis_info) == 3:
        return crs.to_2d()
    return crs


def vertical_factor(crs: CRS) -> float:
    """Metres per unit of the CRS's vertical axis (1.0 when it has none: heights taken as metres)."""
    axes = crs.sub_crs_list[1].axis_info if crs.is_compound else crs.axis_info
    for ax in axes:
        if ax.direction.lower() == "up":
            return float(ax.unit_conversion_factor or 1.0)
    if not crs.is_compound and crs.is_projected:
        # a projected CRS in feet with heights in the same unit (common in LAS and EPANET files)
        return float(crs.axis_info[0].unit_conversion_factor or 1.0)
    return 1.0


@lru_cache(maxsize=64)
def _transformer(src: CRS, dst_epsg: int) -> Transformer:
    return Transformer.from_crs(horizontal(src), CRS.from_epsg(dst_epsg), always_xy=True)


def northing_first(crs: CRS) -> bool:
    """True when the CRS's first axis points north or south (latitude or northing first)."""
    axes = horizontal(crs).axis_info
    return bool(axes) and axes[0].direction.lower() in ("north", "south")


def to_city(
    xyz: FloatArray,
    src: CRS,
    city: City,
    *,
    authority_order: bool = False,
    z_factor: float | None = None,
    ctx: ImportContext | None = None,
) -> FloatArray:
    """(n, 2) or (n, 3) coordinates in ``src`` -> the same shape in the city CRS, metres.

    ``authority_order``: the input follows the CRS's declared axis order (GML does: EPSG:6697 is
    latitude first); otherwise it is (x = east/lon, y = north/lat) as in CityJSON, LAS and GeoJSON.
    ``z_factor`` overrides the vertical unit conversion.  Non-finite output raises ImportError_.
    With ``authority_order`` and a projected northing-first CRS (Gauss-Krüger EPSG:31468, EPSG:4550), the
    file's actual order is ``ctx.axis_order`` ("en"/"ne"), or with "auto" the one whose points fall in
    the CRS's area of use (:func:`cim.io.placement.choose_axis_order`); it is kept in ``ctx.axis_used``.
    """
    a = np.asarray(xyz, dtype=float)
    swap = authority_order and northing_first(src)
    if swap and horizontal(src).is_projected and len(a):
        from .placement import choose_axis_order

        wanted = ctx.axis_order if ctx is not None else "auto"
        if ctx is not None and wanted == "auto" and ctx.axis_used is not None:
            wanted = ctx.axis_used  # one decision per file
        try:
            order = choose_axis_order(a[:, :2], horizontal(src), wanted)
        except ImportError_ as exc:
            exc.where.setdefault("file", ctx.filename if ctx is not None else None)
            raise
        swap = order == "ne"
        if ctx is not None:
            ctx.axis_used = order
    x, y = (a[:, 1], a[:, 0]) if swap else (a[:, 0], a[:, 1])
    if horizontal(src).to_epsg() == city.crs_epsg:
        ox, oy = x.copy(), y.copy()
    else:
        ox, oy = _transformer(src, city.crs_epsg).transform(x, y)
    out = (
        np.column_stack([ox, oy])
        if a.shape[1] == 2
        else np.column_stack([ox, oy, a[:, 2] * (vertical_factor(src) if z_factor is None else z_factor)])
    )
    return out


def datum_warning(src: CRS, city: City, vertical: CRS | None = None) -> str | None:
    """A warning when the source heights are in a vertical datum other than the city's (compared by datum:
    NAVD88 in US feet is NAVD88).  ``vertical``: a vertical CRS declared outside a compound ``src``."""
    from .vdatum import same_datum

    if not src.is_compound and vertical is None:
        return None
    vert = src.sub_crs_list[1] if src.is_compound else vertical
    if city.vertical_datum is None:
        return (
            f"heights are in {vert.name} and were kept as they are: the city's height datum is unknown "  # type: ignore[union-attr]
            "(a city created with --vertical-datum records one)"
        )
    if same_datum(vert, city.vertical_datum):  # type: ignore[arg-type]
        return None
    return (
        f"heights are in {vert.name} and were kept without a datum shift to {city.vertical_datum} "  # type: ignore[union-attr]
        "(no transformation between these datums is defined)"
    )
