"""The district's city-service layers: streets along the street grid, facilities of every kind, communities.

Streets: every N-S street (街) from the riverside road to the north edge and every E-W road (路) across the
district, named and classed (main roads ``primary``, the others ``secondary``), each with a vertex at every
crossing; a footbridge (``footway``, not drivable) crosses the river to the riverside park at u = 1100 m.
Communities: the rectangles between main roads north of the riverside road (20), population = residential floor
area / 35 m² per person, to the nearest 10.  Facilities: each community gets its everyday facilities on the
corners of its central crossing, with deliberate gaps (see ``GAPS`` and README.md): no kindergarten in the
north-east, so that the homes of community C54 are more than 1,000 m from one; no health station in C22; a
supermarket too small in C23;
an emergency shelter far too small for its catchment (SH-C33).  Plus schools, a hospital, markets, parks, sports
grounds, parcel lockers, the fire stations and a fixed shelter in the riverside park across the footbridge.
"""

from __future__ import annotations

import numpy as np
import shapely

from cim.layers import Community, Facility, Street
from cim.model import Building, FireStation

from .layout import EW_STREETS, NS_STREETS, RIVERSIDE_V, SIZE, origin

PERSON_FLOOR_AREA = 35.0  # m² of residential floor area per resident (an assumption of the sample)
U_EDGES = (0.0, 500.0, 900.0, 1300.0, 1700.0, SIZE)  # community columns (main N-S streets 500 ... 1700)
V_EDGES = (RIVERSIDE_V, 800.0, 1200.0, 1600.0, SIZE)  # community rows (main E-W roads)
BRIDGE_U = 1100.0
PARK_SOUTH = (950.0, 40.0, 1250.0, 140.0)  # the riverside park's shelter site, south of the river

#: Community -> facility kinds it lacks (deliberate gaps).  Kindergartens are absent from the whole north-east
#: quarter so that community C54's homes lie more than 1,000 m on foot from the nearest one.
GAPS: dict[str, set[str]] = {
    **{c: {"kindergarten"} for c in ("C33", "C34", "C42", "C43", "C44", "C52", "C53")},
    "C54": {"kindergarten", "nursery"},
    "C22": {"health-station"},
}
SOUTH_KINDERGARTEN = ("C41", "C51")  # their kindergartens sit south of the central crossing
SMALL_SUPERMARKET = "C23"  # 180 m² < 300 m²
SMALL_SHELTER = "C33"  # 600 m² of effective area for a dense catchment


def _community_id(i: int, j: int) -> str:
    return f"C{i + 1}{j + 1}"


def streets() -> list[Street]:
    """The street grid and the footbridge, city CRS."""
    x0, y0 = origin()
    ew_v = [s.at for s in EW_STREETS]
    ns_u = [s.at for s in NS_STREETS]
    out = []
    for s in NS_STREETS:
        vs = [*ew_v, SIZE]
        out.append(
            Street(
                id=f"street-{s.code}",
                name=s.name,
                centreline=[(x0 + s.at, y0 + v) for v in vs],
                street_class="primary" if s.main else "secondary",
                attributes={"width_m": s.width},
            )
        )
    for s in EW_STREETS:
        us = [0.0, *ns_u, SIZE]
        out.append(
            Street(
                id=f"street-{s.code}",
                name=s.name,
                centreline=[(x0 + u, y0 + s.at) for u in us],
                street_class="primary" if s.main else "secondary",
                attributes={"width_m": s.width},
            )
        )
    out.append(
        Street(
            id="street-footbridge",
            name="细河人行桥 (Xihe footbridge)",
            centreline=[(x0 + BRIDGE_U, y0 + RIVERSIDE_V), (x0 + BRIDGE_U, y0 + PARK_SOUTH[3])],
            street_class="footway",
            drivable=False,
        )
    )
    return out


def _box(u: float, v: float, half: float) -> list[list[tuple[float, float]]]:
    x0, y0 = origin()
    return [[(x0 + u - half, y0 + v - half), (x0 + u + half, y0 + v - half), (x0 + u + half, y0 + v + half),
             (x0 + u - half, y0 + v + half)]]  # fmt: skip


def communities(buildings: list[Building]) -> list[Community]:
    x0, y0 = origin()
    res = [b for b in buildings if b.use.value in ("residential", "mixed")]
    polys = shapely.polygons([shapely.linearrings(b.footprint[0]) for b in res])
    floors = np.array([b.floors_above or max(1, round(b.height / 3.0)) for b in res], dtype=float)
    area = shapely.area(polys) * floors
    cent = shapely.get_coordinates(shapely.centroid(polys)) - (x0, y0)
    out = []
    for j in range(len(V_EDGES) - 1):
        for i in range(len(U_EDGES) - 1):
            u0, u1, v0, v1 = U_EDGES[i], U_EDGES[i + 1], V_EDGES[j], V_EDGES[j + 1]
            inside = (cent[:, 0] > u0) & (cent[:, 0] < u1) & (cent[:, 1] > v0) & (cent[:, 1] < v1)
            pop = int(round(area[inside].sum() / PERSON_FLOOR_AREA, -1))
            ring = [(x0 + u0, y0 + v0), (x0 + u1, y0 + v0), (x0 + u1, y0 + v1), (x0 + u0, y0 + v1)]
            out.append(
                Community(
                    id=_community_id(i, j),
                    name=f"社区 {_community_id(i, j)}",
                    footprint=[ring],
                    population=pop,
                    level="community",
                )
            )
    return out


def _centre_crossing(i: int, j: int) -> tuple[float, float]:
    """The street crossing nearest the middle of community (i, j), local metres."""
    um = (U_EDGES[i] + U_EDGES[i + 1]) / 2
    vm = (V_EDGES[j] + V_EDGES[j + 1]) / 2
    u = min((s.at for s in NS_STREETS if U_EDGES[i] < s.at < U_EDGES[i + 1]), key=lambda a: abs(a - um), default=um)
    v = min((s.at for s in EW_STREETS if V_EDGES[j] < s.at < V_EDGES[j + 1]), key=lambda a: abs(a - vm), default=vm)
    return u, v


# Everyday facilities of a community, placed around its central crossing: (kind, du, dv, floor area, site area)
_EVERYDAY = [
    ("community-service-station", 30.0, 30.0, 820.0, None),
    ("kindergarten", -40.0, 40.0, 2400.0, 3600.0),
    ("nursery", 30.0, -30.0, 260.0, None),
    ("elderly-service", -30.0, -30.0, 380.0, None),
    ("health-station", 45.0, 20.0, 150.0, None),
    ("supermarket", -45.0, -15.0, 600.0, None),
    ("parcel-locker", 20.0, 45.0, 10.0, None),
    ("day-care", -20.0, 50.0, 400.0, None),
]


def facilities(fire_stations: list[FireStation], population: dict[str, int]) -> list[Facility]:
    """The facilities; emergency shelters sized 1.6 x 1.5 m² per resident of their community (but one)."""
    x0, y0 = origin()
    out: list[Facility] = []

    def add(fid: str, kind: str, u: float, v: float, **kw) -> None:
        out.append(Facility(id=fid, kind=kind, position=(x0 + u, y0 + v), **kw))

    for j in range(len(V_EDGES) - 1):
        for i in range(len(U_EDGES) - 1):
            cid = _community_id(i, j)
            cu, cv = _centre_crossing(i, j)
            for kind, du, dv, floor, site in _EVERYDAY:
                if kind in GAPS.get(cid, ()):
                    continue
                if kind == "supermarket" and cid == SMALL_SUPERMARKET:
                    floor = 180.0
                if kind == "kindergarten" and cid in SOUTH_KINDERGARTEN:
                    dv = -40.0
                add(f"{kind}-{cid}", kind, cu + du, cv + dv, floor_area=floor, site_area=site, name=f"{kind} {cid}")
            # an emergency shelter (a square or school yard) in every community
            eff = 600.0 if cid == SMALL_SHELTER else max(2100.0, round(1.6 * 1.5 * population[cid], -2))
            add(f"SH-{cid}", "shelter", cu + 60.0, cv - 60.0, shelter_class="emergency", effective_area=eff,
                site_area=eff * 1.25, name=f"应急避难场所 {cid}")  # fmt: skip
    schools = [("primary-school", 300.0, 700.0), ("primary-school", 1100.0, 700.0), ("primary-school", 700.0, 1500.0),
               ("primary-school", 1500.0, 1300.0), ("middle-school", 700.0, 1100.0),
               ("middle-school", 1500.0, 1700.0)]  # fmt: skip
    for k, (kind, u, v) in enumerate(schools):
        add(f"{kind}-{k + 1}", kind, u + 40.0, v + 40.0, floor_area=9000.0, site_area=20000.0)
    add("hospital-1", "hospital", 940.0, 1240.0, floor_area=30000.0, capacity=500)
    for k, (u, v) in enumerate([(340.0, 1040.0), (1140.0, 1440.0), (1740.0, 640.0)]):
        add(f"market-{k + 1}", "market", u, v, floor_area=1500.0)
    for k, (u, v) in enumerate([(260.0, 1840.0), (1060.0, 860.0), (1660.0, 1060.0)]):
        add(f"park-{k + 1}", "park", u, v, site_area=15000.0)
    for k, (u, v) in enumerate([(540.0, 560.0), (1340.0, 1860.0)]):
        add(f"sports-ground-{k + 1}", "sports-ground", u, v, site_area=8000.0)
    for st in fire_stations:
        out.append(Facility(id=f"fire-{st.id}", kind="fire-station", position=st.position, name=st.name))
    # the riverside park across the footbridge: a park and a fixed shelter
    u0, v0, u1, v1 = PARK_SOUTH
    ring = [(x0 + u0, y0 + v0), (x0 + u1, y0 + v0), (x0 + u1, y0 + v1), (x0 + u0, y0 + v1)]
    out.append(Facility(id="park-riverside", kind="park", footprint=[ring], site_area=(u1 - u0) * (v1 - v0),
                        name="细河公园 (Xihe riverside park)"))  # fmt: skip
    out.append(Facility(id="SH-riverside", kind="shelter", footprint=[ring], shelter_class="fixed-short",
                        effective_area=0.8 * (u1 - u0) * (v1 - v0), name="细河固定避难场所"))  # fmt: skip
    return out


def city_services(buildings: list[Building], fire_stations: list[FireStation]) -> list:
    """Streets, facilities and communities of the district."""
    comms = communities(buildings)
    return [*streets(), *facilities(fire_stations, {c.id: c.population or 0 for c in comms}), *comms]
