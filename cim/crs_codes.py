"""City CRS codes: a projected CRS, optionally compound (``EPSG:7415``, ``EPSG:28992+5709``), and a height datum."""

from __future__ import annotations

DEFAULT_VERTICAL = "EPSG:5737"  # 1985 national height datum (China)


def split_city_crs(crs: str, vertical_datum: str | None = None) -> tuple[int, str]:
    """(projected EPSG code, vertical datum ``EPSG:n``) of a city CRS given as ``crs`` (projected or compound)
    and an optional explicit ``vertical_datum`` (which wins over the compound's).  ValueError says what is wrong."""
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
    return code, DEFAULT_VERTICAL
