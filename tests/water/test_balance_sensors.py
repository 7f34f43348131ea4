"""The water balance end to end on the sample city: the inlet meters are datastreams of the monitoring issue
(cim.sensors), found by their Thing's ``cim:feature`` and ``role``; the seeded leak in DMA-SE's night flow."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from cim import sensors
from cim.city import LocalCity
from sample_city import sensors as S


@pytest.fixture(scope="module")
def city(sample_city_path):
    c = LocalCity(sample_city_path)
    assert len(sensors.find_datastreams(c.store, role="dma-inlet")) == 4
    return c


def test_leak_shows_in_dma_se_night_flow(city):
    r = city.analyse("water-balance", district="DMA-SE")
    (d,) = r.districts
    nights = {n.date: n.net_m3_per_h for n in d.nights}
    dates = sorted(nights)
    first_leak = "2026-01-21"  # the first night from day 20 (UTC 2026-01-20 18:00 = 02:00 local)
    before = np.mean([nights[x] for x in dates if x < first_leak][2:])
    after = np.mean([nights[x] for x in dates if x >= first_leak])
    assert after - before == pytest.approx(S.LEAK_M3H, abs=1.5)
    assert d.night_flow_trend_m3_per_h_per_day > 0
    assert d.legitimate_night_use_m3_per_h == pytest.approx(d.population * 0.0017 / 2.62, rel=1e-3)


def test_rates_from_the_inlet_volume(city):
    (ds,) = sensors.things_for_feature(city.store, "water-districts/DMA-NW")[0]["datastreams"][:1]
    t, q = sensors.series(city.store, ds["id"])
    start, end = t[0], t[0] + np.timedelta64(7, "D")
    keep = (t >= start) & (t <= end)
    hours = (t[keep] - start) / np.timedelta64(1, "h")
    supply = float(np.trapezoid(q[keep], hours))  # samples fall on both ends: the trapezoid rule by hand
    iso = lambda x: str(x.astype("datetime64[s]")) + "Z"  # noqa: E731
    r = city.analyse("water-balance", district="DMA-NW", start=iso(start), end=iso(end), registered_m3=0.92 * supply)
    (d,) = r.districts
    assert d.supply_m3 == pytest.approx(supply, rel=1e-6)
    assert d.gross_loss_rate_pct == pytest.approx(8.0, abs=1e-3)
    assert d.grade == "一级" and d.meets_national_target is True
    r = city.analyse(
        "water-balance",
        district="DMA-NW",
        start=iso(start),
        end=iso(end),
        registered_m3=0.85 * supply,
        corrections={"R1": 2.0, "R3": 1.5},
    )
    (d,) = r.districts
    assert d.gross_loss_rate_pct == pytest.approx(15.0, abs=1e-3)
    assert d.loss_rate_pct == pytest.approx(11.5, abs=1e-3) and d.grade == "二级"


def test_every_district_ranked_over_http(sample_city_path, city):
    with TestClient(create_app(Settings(store=str(sample_city_path)))) as client:
        r = client.get("/analysis/water-balance")
        assert r.status_code == 200, r.text
        ds = r.json()["districts"]
        assert sorted(d["district"] for d in ds) == ["DMA-NE", "DMA-NW", "DMA-SE", "DMA-SW"]
        # no registered consumption: ranked by the latest net night flow; the leaking district first
        assert ds[0]["district"] == "DMA-SE"
        r = client.post("/analysis/water-balance", json={"district": "DMA-XX"})
        assert r.status_code == 404 or r.status_code == 400
