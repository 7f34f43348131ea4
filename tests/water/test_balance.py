"""Water balance and minimum night flow on synthetic meter series with exact answers (CJJ 92-2016 §5.2)."""

from __future__ import annotations

import numpy as np
import pytest

from cim.water.balance import balance, night_flow, total_flow, volume_m3

T0 = np.datetime64("2026-01-01T00:00:00", "ms")


def hours(h) -> np.ndarray:
    return T0 + (np.asarray(h, dtype=float) * 3_600_000).astype("timedelta64[ms]")


def test_volume_of_constant_and_linear_flows():
    t = np.arange(0, 48.25, 0.25)
    assert volume_m3(hours(t), np.full(len(t), 100.0), hours(0), hours(48)) == pytest.approx(4800.0, rel=1e-12)
    # q = t m³/h (linear): the trapezoid rule is exact, also between samples (interpolated ends)
    t = np.arange(0, 11.0, 1.0)
    assert volume_m3(hours(t), t, hours(0), hours(10)) == pytest.approx(50.0, rel=1e-12)
    assert volume_m3(hours(t), t, hours(2.5), hours(7.5)) == pytest.approx((7.5**2 - 2.5**2) / 2, rel=1e-12)
    assert volume_m3(hours(t), t, hours(5), hours(5)) == 0.0


def test_two_inlets_add_up():
    a = (hours([0, 1, 2]), np.array([10.0, 10.0, 10.0]))
    b = (hours([0.5, 1.5]), np.array([4.0, 6.0]))
    t, q = total_flow([a, b])
    assert t.tolist() == hours([0, 0.5, 1, 1.5, 2]).tolist()
    assert q.tolist() == [14.0, 14.0, 15.0, 16.0, 16.0]


@pytest.mark.parametrize(
    ("registered", "corrections", "r_wl", "r_bl", "grade", "target"),
    [
        (3960.0, {}, 17.5, 17.5, "超二级", False),
        (3960.0, {"R1": 2.0, "R2": 1.0, "R3": 2.5, "R4": 1.0}, 17.5, 11.0, "二级", False),
        (4368.0, {}, 9.0, 9.0, "一级", True),
        (4320.0, {}, 10.0, 10.0, "一级", False),
        (4272.0, {}, 11.0, 11.0, "二级", False),
        (4224.0, {}, 12.0, 12.0, "二级", False),
    ],
)
def test_cjj92_rates_and_grades(registered, corrections, r_wl, r_bl, grade, target):
    t = np.arange(0, 48.25, 0.25)
    supply = volume_m3(hours(t), np.full(len(t), 100.0), hours(0), hours(48))
    b = balance(supply, registered, corrections)
    assert b.supply_m3 == pytest.approx(4800.0)
    assert b.loss_m3 == pytest.approx(4800.0 - registered)
    assert b.gross_loss_rate_pct == pytest.approx(r_wl, abs=1e-9)
    assert b.loss_rate_pct == pytest.approx(r_bl, abs=1e-9)
    assert b.grade == grade
    assert b.meets_national_target is target


def test_rates_need_the_registered_consumption():
    b = balance(4800.0, None)
    assert b.gross_loss_rate_pct is None and b.grade is None


def diurnal(days: int, leak_from_day: int | None = None, leak: float = 0.0):
    """15-minute UTC samples; local (UTC+8) flow 20 + 10 |h - 3| m³/h, least (20) at 03:00 local."""
    t = np.arange(0, days * 24, 0.25)
    local = (t + 8) % 24
    q = 20 + 10 * np.abs(local - 3)
    if leak_from_day is not None:
        q = q + np.where((t + 8) // 24 >= leak_from_day, leak, 0.0)
    return hours(t), q


def test_minimum_night_flow_per_local_night_and_a_leak():
    t, q = diurnal(30, leak_from_day=20, leak=5.0)
    nf = night_flow(t, q, legitimate_m3_per_h=2.0)
    # the first local night is 2026-01-01 02:00 (UTC 2025-12-31 18:00 is before the series: the first local
    # day starts at UTC 00:00 = local 08:00, so the first night window lies on local 2026-01-02)
    assert nf.nights[0] == np.datetime64("2026-01-02")
    assert len(nf.nights) == 30
    assert nf.minimum_m3_per_h.tolist() == [20.0] * 19 + [25.0] * 11
    assert nf.net_m3_per_h.tolist() == [18.0] * 19 + [23.0] * 11
    assert nf.trend_m3_per_h_per_day > 0


def test_night_flow_trend_is_the_slope():
    t = np.arange(0, 10 * 24, 1.0)
    night = ((t + 8) // 24).astype(float)
    q = 50 + 0.5 * night  # every sample of local day d is 50 + d/2
    nf = night_flow(hours(t), q, legitimate_m3_per_h=0.0)
    assert nf.trend_m3_per_h_per_day == pytest.approx(0.5, abs=1e-12)


def test_window_is_local_time():
    t = np.arange(0, 48, 1.0)
    q = np.full(len(t), 30.0)
    q[19] = 5.0  # UTC 19:00 = local 03:00: inside
    q[3] = 1.0  # UTC 03:00 = local 11:00: outside
    nf = night_flow(hours(t), q, legitimate_m3_per_h=1.0)
    assert nf.minimum_m3_per_h.tolist() == [5.0, 30.0]
    assert nf.net_m3_per_h.tolist() == [4.0, 29.0]
    nf = night_flow(hours(t), q, legitimate_m3_per_h=1.0, utc_offset_h=0.0)  # UTC nights: 02:00, 03:00
    assert nf.minimum_m3_per_h.tolist() == [1.0, 30.0]
