"""Lifeline monitoring for the sample district: SensorThings Things, Datastreams and 30 days of readings.

* 40 pressure loggers (bar) at water nodes, thresholds ``low`` 2.0 bar (alarm) and ``high`` 6.0 bar.
* 4 district-meter inlet flow meters (m3/h), one per district metered area (DMA-NW/NE/SW/SE: the quadrants
  of the district), each with a minimum-night-flow rule: ``high`` over 02:00-04:00 China time
  (``hours_utc`` [18, 20]).
* 4 methane detectors (%LEL) in the gas compartment of the Xungong St utility tunnel, ``high`` 20 %LEL (alarm,
  the alarm level of GB 50838-2015 for natural-gas compartments).
* 5 settlement gauges (mm, hourly) on the buildings nearest the metro line, ``low`` -10 mm (warning).

Readings every :data:`STEP_S` seconds (5 minutes; one minute with ``step_s=60``) from :data:`START` for
:data:`DAYS` days (settlement hourly), a daily demand pattern
in China time, seeded noise, and three seeded events (:data:`EVENTS`, documented in README.md):

* **leak**: DMA-SE's inflow rises by :data:`LEAK_M3H` from :data:`LEAK_START` on (its night flow too);
* **burst**: on day 25 the logger at the burst node drops to about 1.2 bar for three hours and its DMA's
  inflow rises by :data:`BURST_M3H`;
* **gas**: one detector peaks at 35 %LEL on day 12.

Everything derives from the seed; nothing reads the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from cim.crs import city_to_lonlat
from cim.model import Building, PipeNode, UndergroundStructure, Utility
from cim.sensors import Sensors

from .layout import SIZE, origin
from .underground import METRO_V

START = np.datetime64("2026-01-01T00:00:00", "ms")  # UTC; day 1 is 2026-01-01
DAYS = 30
STEP_S = 300  # default: a reading every 5 minutes (cim sample --sensor-step 60 for one-minute readings)
MEASUREMENT = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
DMAS = ("DMA-NW", "DMA-NE", "DMA-SW", "DMA-SE")
DMA_MEAN_M3H = {"DMA-NW": 120.0, "DMA-NE": 150.0, "DMA-SW": 90.0, "DMA-SE": 110.0}  # mean daily inflow
LEAK_DMA = "DMA-SE"
LEAK_M3H = 18.0  # added to DMA-SE's inflow from LEAK_START on, every minute, day and night
LEAK_START = np.datetime64("2026-01-20T00:00:00", "ms")
BURST_START = np.datetime64("2026-01-25T02:00:00", "ms")  # 10:00 China time
BURST_HOURS = 3
BURST_BAR = 1.2  # the burst node's pressure during the burst (plus noise)
BURST_M3H = 40.0  # extra inflow of the burst's DMA during the burst
GAS_PEAK_T = np.datetime64("2026-01-12T03:30:00", "ms")
GAS_PEAK = 35.0  # %LEL
NIGHT_UTC = [18, 20]  # 02:00-04:00 China time (UTC+8): the minimum-night-flow window
NIGHT_FACTOR = 0.45  # night-flow alarm level: this x the DMA's mean inflow (normal nights stay below 0.42)
PRESSURE_LOW, PRESSURE_HIGH, GAS_HIGH, SETTLEMENT_LOW = 2.0, 6.0, 20.0, -10.0


@dataclass(frozen=True)
class SeededEvent:
    """One event written into the readings and the alarm it must raise."""

    id: str
    datastream: str  # the datastream's name
    kind: str  # the alarm's kind: "low" or "high"
    start: str  # ISO, UTC: the first reading outside the threshold
    description: str


def _pattern(hours_local: np.ndarray) -> np.ndarray:
    """Daily demand multiplier at local hour-of-day: 0.35-0.39 over 02:00-04:00, peaks at 07:30 and 19:30."""
    h = hours_local % 24.0

    def bump(c: float, w: float) -> np.ndarray:
        d = np.minimum(np.abs(h - c), 24.0 - np.abs(h - c))
        return np.exp(-0.5 * (d / w) ** 2)

    return 0.35 + 1.1 * bump(7.5, 1.3) + 0.55 * bump(12.5, 1.8) + 0.95 * bump(19.5, 2.0)


def dma_of(x: float, y: float) -> str:
    """The district metered area of a point (city metres): the quadrant of the 2 km district."""
    x0, y0 = origin()
    ns = "N" if y - y0 >= SIZE / 2 else "S"
    ew = "W" if x - x0 < SIZE / 2 else "E"
    return f"DMA-{ns}{ew}"


def _thing(name: str, desc: str, props: dict, lonlat: np.ndarray, ds: list[dict]) -> dict:
    return {
        "name": name,
        "description": desc,
        "properties": props,
        "Locations": [
            {
                "name": name,
                "description": f"where {name} is installed",
                "encodingType": "application/geo+json",
                "location": {"type": "Point", "coordinates": [round(float(lonlat[0]), 7), round(float(lonlat[1]), 7)]},
            }
        ],
        "Datastreams": ds,
    }


def _ds(name: str, desc: str, unit: tuple[str, str], sensor: int, prop: int, props: dict) -> dict:
    return {
        "name": name,
        "description": desc,
        "observationType": MEASUREMENT,
        "unitOfMeasurement": {
            "name": unit[0],
            "symbol": unit[1],
            "definition": f"http://qudt.org/vocab/unit/{unit[0]}",
        },
        "Sensor": {"@iot.id": sensor},
        "ObservedProperty": {"@iot.id": prop},
        "properties": props,
    }


def build_sensors(
    store: Any,
    nodes: list[PipeNode],
    buildings: list[Building],
    structures: list[UndergroundStructure],
    seed: int,
    *,
    days: int = DAYS,
    step_s: int = STEP_S,
) -> list[SeededEvent]:
    """Create the sample city's Things and Datastreams and load their readings into ``store``.

    ``days`` x 86400 / ``step_s`` readings per series (settlement: hourly); returns the seeded events (with the alarms
    they raise).  Events after the last day are left out.
    """
    if days <= 0:
        return []
    rng = np.random.default_rng([seed, 17])
    sta = Sensors(store)
    epsg = store.city().crs_epsg
    base = ""
    ids: dict[str, int] = {}
    for name, defn, desc in [
        ("pressure", "http://vocabs.lter-europe.net/EnvThes/22035", "gauge pressure in the main"),
        ("flow", "http://qudt.org/vocab/quantitykind/VolumeFlowRate", "inflow into a district metered area"),
        ("methane", "http://qudt.org/vocab/quantitykind/LowerExplosiveLimit", "methane as percent of its LEL"),
        ("settlement", "http://qudt.org/vocab/quantitykind/Displacement", "vertical displacement (negative: down)"),
    ]:
        body = {"name": name, "definition": defn, "description": desc}
        ids["op-" + name] = int(sta.create("ObservedProperties", body, base)[0].rsplit("(", 1)[1][:-1])
    for name, desc in [
        ("pressure", "battery pressure logger, 0-10 bar"),
        ("flow", "electromagnetic flow meter at the DMA inlet"),
        ("methane", "catalytic methane detector"),
        ("settlement", "hydrostatic levelling cell"),
    ]:
        body = {"name": f"{name} sensor", "description": desc, "encodingType": "text/plain", "metadata": desc}
        ids["s-" + name] = int(sta.create("Sensors", body, base)[0].rsplit("(", 1)[1][:-1])

    n = days * 86400 // step_s
    t = START.astype(np.int64) + np.arange(n, dtype=np.int64) * step_s * 1000
    hours_local = ((t / 3_600_000.0) + 8.0) % 24.0
    day_factor = np.repeat(1.0 + 0.02 * rng.standard_normal(days + 1), 86400 // step_s)[:n]
    pattern = _pattern(hours_local) * day_factor
    burst = (t >= BURST_START.astype(np.int64)) & (
        t < (BURST_START + np.timedelta64(BURST_HOURS, "h")).astype(np.int64)
    )
    leak = t >= LEAK_START.astype(np.int64)

    # -- pressure loggers at 40 water nodes, spread over the district
    water = sorted((nd for nd in nodes if nd.utility == Utility.water), key=lambda nd: nd.id)
    pick = np.linspace(0, len(water) - 1, 40).round().astype(int)
    loggers = [water[i] for i in pick]
    xy = np.array([nd.position[:2] for nd in loggers])
    ll = city_to_lonlat(xy, epsg)
    x0, y0 = origin()
    target = np.array([x0 + 1500.0, y0 + 1500.0])  # the burst: the logger nearest the middle of DMA-NE
    burst_i = int(np.argmin(np.hypot(*(xy - target).T)))
    burst_dma = dma_of(*xy[burst_i])
    batches: list[tuple[int, np.ndarray, np.ndarray]] = []
    events: list[SeededEvent] = []
    for i, nd in enumerate(loggers):
        dma = dma_of(*nd.position[:2])
        ds_name = f"{nd.id} pressure"
        thing = _thing(
            f"Pressure logger {nd.id}",
            f"pressure logger on water node {nd.id}",
            {"cim:feature": f"pipe-nodes/{nd.id}", "role": "pressure-logger", "dma": dma},
            ll[i],
            [
                _ds(ds_name, f"gauge pressure at {nd.id}", ("Bar", "bar"), ids["s-pressure"], ids["op-pressure"],
                    {"thresholds": [{"low": PRESSURE_LOW, "severity": "alarm"},
                                    {"high": PRESSURE_HIGH, "severity": "warning"}]}),
            ],
        )  # fmt: skip
        ds = _create_ds(sta, thing)
        p0 = 4.6 - 0.098 * (nd.position[2] - np.mean([w.position[2] for w in loggers])) + 0.2 * rng.standard_normal()
        p0 = float(np.clip(p0, 3.8, 5.2))
        p = p0 - 0.8 * (pattern - 0.35) + 0.02 * rng.standard_normal(n)
        if dma == LEAK_DMA:
            p = p - 0.05 * leak
        if dma == burst_dma:
            p = p - 0.3 * burst
        if i == burst_i:
            p = np.where(burst, BURST_BAR + 0.03 * rng.standard_normal(n), p)
            if burst.any():
                events.append(
                    SeededEvent(
                        "burst", ds_name, "low", str(BURST_START) + "Z",
                        f"main burst at {nd.id} ({burst_dma}): pressure about {BURST_BAR} bar for {BURST_HOURS} h",
                    )
                )  # fmt: skip
        batches.append((ds, t, np.round(p, 3)))

    # -- DMA inlet flow meters
    for dma in DMAS:
        ns, ew = dma[4], dma[5]
        inlet = np.array(
            [
                x0 + (0.0 if ew == "W" else SIZE) + (20.0 if ew == "W" else -20.0),
                y0 + (SIZE / 2 + (20.0 if ns == "N" else -20.0)),
            ]
        )
        mean = DMA_MEAN_M3H[dma]
        thing = _thing(
            f"{dma} inlet meter",
            f"district meter at the inlet of {dma}",
            {"cim:feature": f"water-districts/{dma}", "role": "dma-inlet", "dma": dma},
            city_to_lonlat(inlet[None, :], epsg)[0],
            [
                _ds(f"{dma} inlet flow", f"inflow into {dma}", ("CubicMetrePerHour", "m3/h"), ids["s-flow"],
                    ids["op-flow"],
                    {"role": "dma-inlet", "thresholds": {"high": round(mean * NIGHT_FACTOR, 1), "hours_utc": NIGHT_UTC,
                                                         "severity": "warning"}}),
            ],
        )  # fmt: skip
        ds = _create_ds(sta, thing)
        q = mean * pattern * (1.0 + 0.01 * rng.standard_normal(n))
        if dma == LEAK_DMA:
            q = q + LEAK_M3H * leak
        if dma == burst_dma:
            q = q + BURST_M3H * burst
        batches.append((ds, t, np.round(q, 2)))
    night_t = LEAK_START + np.timedelta64(NIGHT_UTC[0], "h")
    if night_t < START + np.timedelta64(days, "D"):
        events.append(
            SeededEvent(
                "leak", f"{LEAK_DMA} inlet flow", "high", str(night_t) + "Z",
                f"leak in {LEAK_DMA}: inflow +{LEAK_M3H} m3/h from {LEAK_START}Z on; the night flow rule fires at the "
                "first night (02:00 China time) and stays active",
            )
        )  # fmt: skip

    # -- methane detectors in the gas compartment of the main utility tunnel
    tunnel = next(s for s in structures if s.id == "U-UTL-1")
    line = shapely.LineString([c[:2] for c in tunnel.centreline])
    pos = np.array([line.interpolate(f, normalized=True).coords[0] for f in (0.15, 0.4, 0.65, 0.9)])
    gll = city_to_lonlat(pos, epsg)
    gas_i = 1
    for k in range(4):
        ds_name = f"U-UTL-1 gas compartment CH4-{k + 1}"
        thing = _thing(
            f"Methane detector CH4-{k + 1}",
            f"methane detector {k + 1} in the gas compartment (燃气舱) of U-UTL-1",
            {"cim:feature": "underground-structures/U-UTL-1", "role": "gas-detector", "compartment": "燃气舱 (gas)"},
            gll[k],
            [_ds(ds_name, "methane", ("PercentLEL", "%LEL"), ids["s-methane"], ids["op-methane"],
                 {"thresholds": {"high": GAS_HIGH, "severity": "alarm"}})],
        )  # fmt: skip
        ds = _create_ds(sta, thing)
        g = np.abs(0.6 + 0.3 * rng.standard_normal(n))
        if k == gas_i:
            dt_min = (t - GAS_PEAK_T.astype(np.int64)) / 60_000.0
            g = g + GAS_PEAK * np.exp(-0.5 * (dt_min / 12.0) ** 2)
            if GAS_PEAK_T < START + np.timedelta64(days, "D"):
                first = t[g > GAS_HIGH]
                events.append(
                    SeededEvent(
                        "gas", ds_name, "high", str(first[0].astype("datetime64[ms]")) + "Z",
                        f"gas spike at CH4-{k + 1}: {GAS_PEAK} %LEL peak at {GAS_PEAK_T}Z",
                    )
                )  # fmt: skip
        batches.append((ds, t, np.round(g, 2)))

    # -- settlement gauges on the five buildings nearest the metro line (hourly)
    metro = shapely.LineString([(x0, y0 + METRO_V), (x0 + SIZE, y0 + METRO_V)])
    tall = [b for b in buildings if b.height >= 15.0]
    dist = shapely.distance(metro, np.array([shapely.Polygon(np.asarray(b.footprint[0])[:, :2]) for b in tall]))
    near = [tall[i] for i in np.argsort(dist, kind="stable")[:5]]
    th = t[:: max(1, 3600 // step_s)]
    for b in near:
        c = shapely.Polygon(np.asarray(b.footprint[0])[:, :2]).centroid
        thing = _thing(
            f"Settlement gauge {b.id}",
            f"settlement gauge on building {b.id} near metro line 1",
            {"cim:feature": f"buildings/{b.id}", "role": "settlement-gauge"},
            city_to_lonlat(np.array([[c.x, c.y]]), epsg)[0],
            [_ds(f"{b.id} settlement", "settlement since installation, hourly", ("Millimetre", "mm"),
                 ids["s-settlement"], ids["op-settlement"],
                 {"thresholds": {"low": SETTLEMENT_LOW, "severity": "warning"}})],
        )  # fmt: skip
        ds = _create_ds(sta, thing)
        days_f = (th - th[0]) / 86_400_000.0
        s = -0.03 * days_f + 0.05 * rng.standard_normal(len(th))
        batches.append((ds, th, np.round(s, 2)))
    sta.ingest(batches)
    return events


def _create_ds(sta: Sensors, thing: dict) -> int:
    """Create a Thing with its one Datastream; returns the Datastream's id."""
    url, _ = sta.create("Things", thing, "")
    tid = int(url.rsplit("(", 1)[1][:-1])
    got = sta.get(f"Things({tid})/Datastreams", {"$select": "id"}, "")
    return int(got["value"][0]["@iot.id"])
