"""A district's balance from its meter datastreams (the adaptor between :mod:`cim.sensors` and
:mod:`cim.water.balance`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import InvalidParameter
from .balance import NIGHT_USE_M3_PER_H_PER_PERSON, balance, night_flow, total_flow, volume_m3
from .district import WaterDistrict

if TYPE_CHECKING:
    from ..store import Store


def meters(store: Store, district: WaterDistrict, role: str, listed: list[Any]) -> list[Any]:
    """Datastream ids: those the district lists and those whose Thing names it with ``role``."""
    ids = list(listed)
    try:
        from .. import sensors
    except ImportError:  # the monitoring module is not installed: the listed ids only
        return ids
    for ds in sensors.find_datastreams(store, role=role, **{"cim:feature": f"water-districts/{district.id}"}):
        if ds["id"] not in ids:
            ids.append(ds["id"])
    return ids


def _series(store: Store, ids: list[Any]) -> list[tuple[np.ndarray, np.ndarray]]:
    if not ids:
        return []
    try:
        from .. import sensors
    except ImportError:
        raise InvalidParameter("district", "Meter datastreams need cim.sensors, which is not installed.") from None

    return [sensors.series(store, i) for i in ids]


def has_inlet_data(store: Store, district: WaterDistrict) -> bool:
    """Whether the district has an inlet meter datastream holding data."""
    ids = meters(store, district, "dma-inlet", district.inlets)
    try:
        return any(len(t) for t, _ in _series(store, ids))
    except InvalidParameter:
        return False


def _ms(t: datetime | None) -> np.datetime64 | None:
    if t is None:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(UTC).replace(tzinfo=None)
    return np.datetime64(t, "ms")


def _iso(t: np.datetime64) -> str:
    return str(t.astype("datetime64[s]")) + "Z"


def district_population(store: Store, district: WaterDistrict, persons_per_m2: float) -> float:
    """Residents of the buildings whose footprint centroid lies in the district."""
    import shapely

    from .service import population

    poly = shapely.Polygon(district.area[0], district.area[1:])
    shapely.prepare(poly)
    from ..model import Building
    from ..store import Region
    from ..store.typed import iter_typed

    total = 0.0
    for b in iter_typed(store, "buildings", Building, region=Region(poly)):
        if poly.contains(shapely.Polygon(b.footprint[0]).centroid):
            total += population(b, persons_per_m2)
    return total


def district_balance(
    store: Store,
    district: WaterDistrict,
    start: datetime | None,
    end: datetime | None,
    registered_m3: float | None,
    corrections: dict[str, float],
    legitimate: float | None,
    utc_offset_h: float,
    persons_per_m2: float,
) -> tuple[dict[str, Any], str, str]:
    """The fields of the analysis's ``DistrictBalance`` and the period used (ISO)."""
    inlets = meters(store, district, "dma-inlet", district.inlets)
    if not inlets:
        raise InvalidParameter("district", f"Water district {district.id!r} has no inlet meter datastream.")
    outlets = meters(store, district, "dma-outlet", district.outlets)
    customers = meters(store, district, "dma-customer", [])
    ins, outs = _series(store, inlets), _series(store, outlets)
    t_all = np.concatenate([t for t, _ in ins]) if ins else np.array([], dtype="datetime64[ms]")
    if len(t_all) == 0:
        raise InvalidParameter("district", f"The inlet meters of water district {district.id!r} hold no data.")
    # the period, within the metered span (no volume is invented beyond the first and last reading)
    s = max(_ms(start), t_all.min()) if start is not None else t_all.min()
    e = min(_ms(end), t_all.max()) if end is not None else t_all.max()
    if e <= s:
        raise InvalidParameter("end", "The period's end must come after its start.")
    supply = sum(volume_m3(t, q, s, e) for t, q in ins) - sum(volume_m3(t, q, s, e) for t, q in outs)
    if registered_m3 is None and customers:
        registered_m3 = sum(volume_m3(t, q, s, e) for t, q in _series(store, customers))
    b = balance(supply, registered_m3, corrections)
    pop = district_population(store, district, persons_per_m2)
    if legitimate is None:
        legitimate = district.legitimate_night_use_m3_per_h
    if legitimate is None:
        legitimate = pop * NIGHT_USE_M3_PER_H_PER_PERSON
    t, q = total_flow(ins)
    if outs:
        to, qo = total_flow(outs)
        q = q - np.interp(t.astype(np.int64).astype(float), to.astype(np.int64).astype(float), qo)
    keep = (t >= s) & (t <= e)
    nf = night_flow(t[keep], q[keep], legitimate, utc_offset_h=utc_offset_h)

    def r(x: float | None, nd: int = 4) -> float | None:
        return None if x is None else round(float(x), nd)

    return (
        {
            "district": district.id,
            "inlets": inlets,
            "supply_m3": r(b.supply_m3, 3),
            "registered_m3": r(b.registered_m3, 3),
            "loss_m3": r(b.loss_m3, 3),
            "gross_loss_rate_pct": r(b.gross_loss_rate_pct),
            "corrections_pct": r(b.corrections_pct),
            "loss_rate_pct": r(b.loss_rate_pct),
            "grade": b.grade,
            "meets_national_target": b.meets_national_target,
            "population": round(pop, 1),
            "legitimate_night_use_m3_per_h": round(float(legitimate), 4),
            "nights": [
                {"date": str(d), "minimum_m3_per_h": round(float(m), 4), "net_m3_per_h": round(float(n), 4)}
                for d, m, n in zip(nf.nights, nf.minimum_m3_per_h, nf.net_m3_per_h, strict=True)
            ],
            "night_flow_trend_m3_per_h_per_day": r(nf.trend_m3_per_h_per_day, 6),
        },
        _iso(s),
        _iso(e),
    )
