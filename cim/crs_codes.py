"""City CRS codes: a projected CRS, optionally compound (``EPSG:7415``, ``EPSG:28992+5709``), and a height datum."""

from __future__ import annotations

DEFAULT_VERTICAL = "EPSG:5737"  # 1985 national height datum (China)
CGCS2000 = 4490  # the geographic CRS of China Geodetic Coordinate System 2000 (its GK zones: EPSG:4491-4554)


def split_city_crs(crs: str, vertical_datum: str | None = None) -> tuple[int, str | None]:
    """(projected EPSG code, vertical datum ``EPSG:n`` or None) of a city CRS given as ``crs`` (projected or
    compound) and an optional explicit ``vertical_datum`` (which wins over the compound's).  A plain 2-D CRS
    gets the 1985 national height datum (:data:`DEFAULT_VERTICAL`) only when it is based on CGCS2000 (China's
    datum, as the 1985 heights are); any other gets None: the height datum is unknown.  ValueError says what
    is wrong."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        c = CRS.from_user_input(crs.strip())
    except CRSError:
        raise ValueError(f"--crs: unknown CRS {crs!r}") from None
    horizontal, vertical = (c.sub_crs_list[0], c.sub_crs_list[1]) if c.is_compound else (c, None)
    code = horizontal.to_epsg()
    if code is None or not horizontal.is_projected:
        raise ValueError(f"--crs must be a projected EPSG CRS (metres), optionally compound; got {crs!r}")
    if vertical_datum is not None:
        try:
            v = CRS.from_user_input(vertical_datum.strip())
        except CRSError:
            raise ValueError(f"--vertical-datum: unknown CRS {vertical_datum!r}") from None
        if not v.is_vertical or v.to_epsg() is None:
            raise ValueError(f"--vertical-datum must be a vertical EPSG CRS, e.g. EPSG:5709; got {vertical_datum!r}")
        return code, f"EPSG:{v.to_epsg()}"
    if vertical is not None and vertical.to_epsg() is not None:
        return code, f"EPSG:{vertical.to_epsg()}"
    return code, DEFAULT_VERTICAL if is_cgcs2000(horizontal) else None


def is_cgcs2000(crs: object) -> bool:
    """Whether a pyproj CRS is CGCS2000 or a projection of it (EPSG:4490; its Gauss-Krüger zones EPSG:4491-4554)."""
    geodetic = getattr(crs, "geodetic_crs", None)
    return geodetic is not None and geodetic.to_epsg() == CGCS2000
