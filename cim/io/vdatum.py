"""Vertical datums: what a file's heights are in, recognised by datum (NAVD88 in feet is NAVD88) and found
where files put it: a compound CRS, a vertical CRS written after the horizontal one in a WKT record
(``PROJCS[...],VERTCS["NAVD88",...]`` as ESRI writes it), or the GeoTIFF key VerticalCSTypeGeoKey (4096).
"""

from __future__ import annotations

import re
from functools import lru_cache

from pyproj import CRS
from pyproj.exceptions import CRSError

# names of vertical CRSs and datums in files -> EPSG vertical CRS (the usual ones; pyproj's database otherwise)
ALIASES = {
    "navd88": 5703,
    "navd 88": 5703,
    "navd_1988": 5703,
    "north american vertical datum 1988": 5703,
    "north_american_vertical_datum_1988": 5703,
    "ngvd29": 5702,
    "ngvd 29": 5702,
    "nap": 5709,
    "normaal amsterdams peil": 5709,
    "dhhn2016": 7837,
    "dhhn92": 5783,
    "ln02": 5728,
    "cgvd2013": 6647,
    "egm96": 5773,
    "egm2008": 3855,
    "yellow sea 1985": 5737,
    "1985 national": 5737,
    "jgd2011": 6695,
    "odn": 5701,
}

_VERT = re.compile(r'\b(?:VERT_CS|VERTCS|VERTCRS|VERTICALCRS)\s*\[\s*"([^"]+)"', re.I)


@lru_cache(maxsize=64)
def vertical_by_name(name: str) -> CRS | None:
    """A vertical CRS for a name found in a file ("NAVD88 height", "NAP", "NAVD_1988"), or None."""
    key = re.sub(r"\s*(height|depth)?\s*(\((ftus|ft|m)\))?\s*$", "", name.strip().lower()).strip()
    for k in (name.strip().lower(), key, key.replace("_", " ")):
        if k in ALIASES:
            return CRS.from_epsg(ALIASES[k])
    try:
        from pyproj.database import query_crs_info

        for info in query_crs_info(auth_name="EPSG", pj_types="VERTICAL_CRS"):
            if info.name.lower() in (name.strip().lower(), key, f"{key} height"):
                return CRS.from_epsg(int(info.code))
    except Exception:  # noqa: BLE001 - the database lookup is a fallback only
        return None
    return None


def vertical_in_wkt(wkt: str) -> CRS | None:
    """The vertical CRS a WKT text names (also one written after the horizontal CRS), or None."""
    m = _VERT.search(wkt or "")
    return vertical_by_name(m.group(1)) if m else None


def vertical_of_las(header) -> CRS | None:
    """The vertical CRS a LAS header declares outside a compound CRS: a vertical part of its WKT record, else
    the GeoTIFF VerticalCSTypeGeoKey (4096); None when it declares none."""
    recs = list(header.vlrs) + list(header.evlrs or [])
    for r in recs:
        if getattr(r, "record_id", None) == 2112:
            text = getattr(r, "string", None)
            if text is None:
                data = getattr(r, "record_data", b"") or b""
                text = data.decode("utf-8", errors="replace") if isinstance(data, bytes | bytearray) else str(data)
            v = vertical_in_wkt(text)
            if v is not None:
                return v
    for r in recs:
        for key in getattr(r, "geo_keys", None) or []:
            if int(getattr(key, "id", 0)) == 4096:
                code = int(getattr(key, "value_offset", 0))
                if 1 <= code < 32767:
                    try:
                        return CRS.from_epsg(code)
                    except CRSError:
                        return None
    return None


def same_datum(vert: CRS, city_vertical: str) -> bool:
    """Whether a vertical CRS's datum is the city's height datum (``EPSG:n``), whatever the unit."""
    try:
        city = CRS.from_user_input(city_vertical)
    except CRSError:
        return False
    if vert.to_epsg() is not None and vert.to_epsg() == city.to_epsg():
        return True
    a, b = vert.datum, city.datum
    return a is not None and b is not None and a.name.lower() == b.name.lower()
