"""Sunlight (日照) proposals for the sample city: one that leaves a home below 大寒日 2 h, one that passes.

Both stand on the same infill site in block r6 c3 (local u 575-675, v 1770-1783): between the shed row at
v 1762-1767 and the 5 m setback from 北四路's red line (v 1788), 34 m south of the 6-storey slab
**B-0307-010** (local u 614.4-664.3, v 1817-1827.2; 18.3 m, 1980s-90s) across 北四路.  Without a proposal the
slab's lowest-floor sills get at least 164 min of sun on 大寒日 (8:00-16:00 true solar time).

* ``SL-FAIL`` 沈辽北四路住宅 (26 storeys x 3 m = 78 m): its shadow covers the slab's south wall most of the
  day; the slab's worst sill drops below 120 min: verdict ``fail``, blocked by SL-FAIL.
* ``SL-PASS`` 北四路社区服务中心 (4 storeys x 3 m = 12 m): the slab keeps at least 120 min: ``pass``.

Footprints are in EPSG:4550 (northing, easting, the CRS's official axis order) as the HTTP API reads them.
"""

from __future__ import annotations

from typing import Any

from .layout import origin

TARGET = "B-0307-010"
SITE = (575.0, 1770.0, 675.0, 1783.0)  # local u0, v0, u1, v1 (metres east / north of the district's corner)
CRS = "http://www.opengis.net/def/crs/EPSG/0/4550"


def _footprint() -> dict[str, Any]:
    x0, y0 = origin()
    u0, v0, u1, v1 = SITE
    ring = [(u0, v0), (u1, v0), (u1, v1), (u0, v1), (u0, v0)]
    return {"type": "Polygon", "coordinates": [[[y0 + v, x0 + u] for u, v in ring]]}


def proposals() -> dict[str, dict[str, Any]]:
    """The two proposals by id, as the sunlight request's ``proposals`` items."""
    fp = _footprint()
    return {
        "SL-FAIL": {"id": "SL-FAIL", "name": "沈辽北四路住宅", "footprint": fp, "floors": 26, "storey_height": 3.0},
        "SL-PASS": {"id": "SL-PASS", "name": "北四路社区服务中心", "footprint": fp, "floors": 4, "storey_height": 3.0},
    }


def request(proposal: str, **extra: Any) -> dict[str, Any]:
    """The ``POST /analysis/sunlight`` body checking ``proposal`` against the slab B-0307-010 on 大寒日."""
    body: dict[str, Any] = {"crs": CRS, "proposals": [proposals()[proposal]], "targets": {"buildings": [TARGET]}}
    body.update(extra)
    return body
