"""District water balance (CJJ 92-2016, 2018 amendment, §5.2) and minimum night flow, on arrays.

* supply Q_s (m³): the inlet meters' flow (m³/h) integrated over [start, end] by the trapezoid rule, less the
  outlet meters'; registered consumption Q_a (m³) given or from customer meters likewise;
* 综合漏损率 R_WL = (Q_s - Q_a) / Q_s x 100 % (§5.2.2); 漏损率 R_BL = R_WL - (R1 + R2 + R3 + R4), the
  corrections for household metering, pipe length per supply, mean outlet pressure and frost depth given in
  percentage points (§5.2.3; their formulas were not found, so they are inputs, M);
* grade (§5.1.2, on R_BL): 一级 ≤ 10 %, 二级 ≤ 12 %; the national target ≤ 9 % by 2025 (建办城〔2022〕2号);
* minimum night flow (MNF): per night, the least total inflow sampled in [02:00, 04:00) local time
  (``utc_offset_h``, China Standard Time = 8), less the legitimate night use; its trend is the least-squares
  slope over the nights (m³/h per day).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRADE_1_PCT = 10.0  # CJJ 92-2016 §5.1.2 一级
GRADE_2_PCT = 12.0  # 二级
NATIONAL_TARGET_PCT = 9.0  # 建办城〔2022〕2号, by 2025
NIGHT_WINDOW_H = (2.0, 4.0)  # local hours of the minimum night flow
CHINA_UTC_OFFSET_H = 8.0
#: legitimate night use per resident, m³/h (M: 1.7 L per household per hour, the UK night-use allowance,
#: over 2.62 persons per household, China's 2020 census)
NIGHT_USE_M3_PER_H_PER_PERSON = 0.0017 / 2.62

MS_PER_H = 3_600_000.0


def volume_m3(times: np.ndarray, flow_m3_per_h: np.ndarray, start: np.datetime64, end: np.datetime64) -> float:
    """Volume through a meter between ``start`` and ``end``: the trapezoid rule over the samples, the flow
    interpolated linearly at ``start`` and ``end`` (held constant beyond the first and last sample).

    ``times`` (t,) datetime64, ascending; ``flow_m3_per_h`` (t,) m³/h.  Returns m³.
    """
    t = np.asarray(times, dtype="datetime64[ms]").astype(np.int64).astype(float)
    q = np.asarray(flow_m3_per_h, dtype=float)
    ok = np.isfinite(q)
    t, q = t[ok], q[ok]
    s = float(np.asarray(start, dtype="datetime64[ms]").astype(np.int64))
    e = float(np.asarray(end, dtype="datetime64[ms]").astype(np.int64))
    if len(t) == 0 or e <= s:
        return 0.0
    inside = (t > s) & (t < e)
    tt = np.concatenate([[s], t[inside], [e]])
    qq = np.concatenate([[np.interp(s, t, q)], q[inside], [np.interp(e, t, q)]])
    return float(np.trapezoid(qq, tt) / MS_PER_H)


def total_flow(series: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Sum of several meters' flows on the union of their sample times (each interpolated linearly)."""
    if not series:
        return np.array([], dtype="datetime64[ms]"), np.array([], dtype=float)
    conv = [(np.asarray(t, dtype="datetime64[ms]"), np.asarray(q, dtype=float)) for t, q in series]
    times = np.unique(np.concatenate([t for t, _ in conv]))
    x = times.astype(np.int64).astype(float)
    total = np.zeros(len(times))
    for t, q in conv:
        ok = np.isfinite(q)
        if ok.any():
            total += np.interp(x, t[ok].astype(np.int64).astype(float), q[ok])
    return times, total


@dataclass
class NightFlow:
    """Minimum night flow per night (k nights), m³/h, and its trend, m³/h per day."""

    nights: np.ndarray  # (k,) datetime64[D]: the local date of each night's 02:00
    minimum_m3_per_h: np.ndarray  # (k,) least inflow in the window
    net_m3_per_h: np.ndarray  # (k,) minimum less the legitimate night use
    trend_m3_per_h_per_day: float | None  # least-squares slope of net over the nights


def night_flow(
    times: np.ndarray,
    flow_m3_per_h: np.ndarray,
    legitimate_m3_per_h: float,
    *,
    utc_offset_h: float = CHINA_UTC_OFFSET_H,
    window_h: tuple[float, float] = NIGHT_WINDOW_H,
) -> NightFlow:
    """Minimum night flow per night (see the module docstring).  ``times`` are UTC."""
    t = np.asarray(times, dtype="datetime64[ms]")
    q = np.asarray(flow_m3_per_h, dtype=float)
    local = t + np.timedelta64(int(round(utc_offset_h * MS_PER_H)), "ms")
    day = local.astype("datetime64[D]")
    hour = (local - day).astype(np.int64) / MS_PER_H
    sel = (hour >= window_h[0]) & (hour < window_h[1]) & np.isfinite(q)
    nights, inv = np.unique(day[sel], return_inverse=True)
    mins = np.full(len(nights), np.inf)
    np.minimum.at(mins, inv, q[sel])
    net = mins - legitimate_m3_per_h
    trend = None
    if len(nights) >= 2:
        x = (nights - nights[0]).astype(np.int64).astype(float)
        trend = float(np.polyfit(x, net, 1)[0])
    return NightFlow(nights, mins, net, trend)


@dataclass
class Balance:
    """CJJ 92-2016 §5.2 balance of a district: volumes m³, rates and corrections %, grade; None without data."""

    supply_m3: float
    registered_m3: float | None
    loss_m3: float | None
    gross_loss_rate_pct: float | None  # 综合漏损率 R_WL
    corrections_pct: float
    loss_rate_pct: float | None  # 漏损率 R_BL
    grade: str | None  # "一级" | "二级" | "超二级" (above the 二级 limit)
    meets_national_target: bool | None


def balance(supply_m3: float, registered_m3: float | None, corrections_pct: dict[str, float] | None = None) -> Balance:
    """CJJ 92-2016 §5.2 rates from the district's supply and registered consumption (m³)."""
    corr = float(sum((corrections_pct or {}).values()))
    if registered_m3 is None or supply_m3 <= 0:
        return Balance(supply_m3, registered_m3, None, None, corr, None, None, None)
    loss = supply_m3 - registered_m3
    r_wl = loss / supply_m3 * 100.0
    r_bl = r_wl - corr
    grade = "一级" if r_bl <= GRADE_1_PCT else ("二级" if r_bl <= GRADE_2_PCT else "超二级")
    return Balance(supply_m3, registered_m3, loss, r_wl, corr, r_bl, grade, r_bl <= NATIONAL_TARGET_PCT)
