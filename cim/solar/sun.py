"""The sun's track for sunlight checks: solar-term days and positions in true solar time (pvlib, NREL SPA).

True solar time (真太阳时) at longitude ``lon`` is UTC + lon/15 h + the equation of time: the sun crosses the
meridian at 12:00 true solar time.  A window such as 08:00-16:00 is cut into steps of ``step_min`` minutes and
the sun is taken at the **middle of each step**, so a count of sunlit steps x ``step_min`` is the sunlit time to
within one step.  Positions come from pvlib's NREL SPA (±0.0003°), topocentric, without refraction by default
(``refraction=True`` uses SPA's standard atmosphere).

Directions are returned in the **grid of the city CRS**: the azimuth of true north in a Gauss-Krüger grid
differs from grid north by the meridian convergence (≈ 0.27° at Shenyang in EPSG:4550), measured here with
pyproj at the site.

Solar terms (节气) are the days when the sun's apparent ecliptic longitude crosses a multiple of 15°:
大寒 300° (about 20 January), 冬至 270° (about 22 December); the civil date is taken in Beijing time (UTC+8), as
the Chinese calendar does.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

BEIJING = dt.timezone(dt.timedelta(hours=8))
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _apparent_longitude(unixtime: np.ndarray) -> np.ndarray:
    """Apparent geocentric ecliptic longitude of the sun, degrees [0, 360), at unix times (s) (SPA §3.2-3.6)."""
    from pvlib import spa

    unixtime = np.atleast_1d(np.asarray(unixtime, dtype=float))
    year = dt.datetime.fromtimestamp(float(unixtime[0]), dt.UTC).year
    delta_t = float(spa.calculate_deltat(year, 6))
    jd = spa.julian_day(unixtime)
    jde = spa.julian_ephemeris_day(jd, delta_t)
    jce = spa.julian_ephemeris_century(jde)
    jme = spa.julian_ephemeris_millennium(jce)
    theta = spa.geocentric_longitude(spa.heliocentric_longitude(jme))
    x = [
        spa.mean_elongation(jce),
        spa.mean_anomaly_sun(jce),
        spa.mean_anomaly_moon(jce),
        spa.moon_argument_latitude(jce),
        spa.moon_ascending_longitude(jce),
    ]
    out = np.empty((2, len(jce)))
    spa.longitude_obliquity_nutation(jce, *x, out)
    lam = spa.apparent_sun_longitude(theta, out[0], spa.aberration_correction(spa.heliocentric_radius_vector(jme)))
    return np.mod(lam, 360.0)


@lru_cache(maxsize=64)
def solar_term_date(year: int, longitude_deg: float) -> dt.date:
    """The civil date (Beijing time) in ``year`` when the sun's apparent longitude crosses ``longitude_deg``.

    >>> solar_term_date(2026, 300.0), solar_term_date(2026, 270.0)  # 大寒, 冬至
    (datetime.date(2026, 1, 20), datetime.date(2026, 12, 22))
    """
    start = dt.datetime(year, 1, 1, tzinfo=dt.UTC).timestamp() - 86400.0
    t = start + np.arange(0, 368 * 24) * 3600.0  # hourly over the year
    lam = np.unwrap(np.radians(_apparent_longitude(t)))
    target = np.radians(longitude_deg)
    k = np.ceil((lam[0] - target) / (2 * np.pi))
    goal = target + k * 2 * np.pi
    i = int(np.searchsorted(lam, goal))
    if i == 0 or i >= len(t):
        raise ValueError(f"no crossing of {longitude_deg}° in {year}")
    # refine by bisection on the exact longitude (to the second)
    lo, hi = t[i - 1], t[i]
    for _ in range(20):
        mid = 0.5 * (lo + hi)
        m = np.unwrap(np.radians(np.r_[np.degrees(lam[i - 1]), _apparent_longitude(np.array([mid]))]))[1]
        lo, hi = (mid, hi) if m < goal else (lo, mid)
    when = dt.datetime.fromtimestamp(0.5 * (lo + hi), dt.UTC).astimezone(BEIJING)
    if when.year != year:
        raise ValueError(f"the crossing of {longitude_deg}° falls in {when.year}")
    return when.date()


@lru_cache(maxsize=16)
def transformer(src: str, dst: str):
    """A cached pyproj Transformer (x, y order); building one costs tens of milliseconds or more."""
    from pyproj import Transformer

    return Transformer.from_crs(src, dst, always_xy=True)


def grid_north_bearing(lon: float, lat: float, epsg: int) -> float:
    """Bearing of true north in the grid of ``epsg`` at (lon, lat), degrees clockwise from grid north."""
    tr = transformer("EPSG:4326", f"EPSG:{epsg}")
    crs_is_projected = tr.target_crs is not None and tr.target_crs.is_projected
    if not crs_is_projected:
        return 0.0
    x0, y0 = tr.transform(lon, lat)
    x1, y1 = tr.transform(lon, lat + 1e-4)
    return float(np.degrees(np.arctan2(x1 - x0, y1 - y0)))


@dataclass(frozen=True)
class SunTrack:
    """The sun over a window of true solar time, one sample in the middle of each step.

    minutes : (T,) true solar time of each sample, minutes after midnight.
    azimuth : (T,) degrees clockwise from true north.
    altitude : (T,) degrees above the horizon.
    grid_azimuth : (T,) degrees clockwise from the city grid's north (azimuth + :attr:`north_bearing`).
    utc : (T,) numpy datetime64[ns] UTC instants.
    """

    date: dt.date
    lon: float
    lat: float
    start_min: float
    end_min: float
    step_min: float
    minutes: np.ndarray
    azimuth: np.ndarray
    altitude: np.ndarray
    grid_azimuth: np.ndarray
    utc: np.ndarray
    north_bearing: float

    @property
    def direction(self) -> np.ndarray:
        """(T, 3) unit vectors towards the sun in the city grid (east, north, up)."""
        a, h = np.radians(self.grid_azimuth), np.radians(self.altitude)
        return np.column_stack([np.sin(a) * np.cos(h), np.cos(a) * np.cos(h), np.sin(h)])

    @property
    def horizontal(self) -> np.ndarray:
        """(T, 2) unit horizontal directions towards the sun in the city grid."""
        a = np.radians(self.grid_azimuth)
        return np.column_stack([np.sin(a), np.cos(a)])

    @property
    def tan_altitude(self) -> np.ndarray:
        return np.tan(np.radians(self.altitude))


def sun_track(
    lon: float,
    lat: float,
    date: dt.date,
    window: tuple[float, float] = (480.0, 960.0),
    step_min: float = 1.0,
    *,
    epsg: int | None = None,
    elevation: float = 0.0,
    refraction: bool = False,
) -> SunTrack:
    """The sun at the middle of each ``step_min`` step of ``window`` (minutes of true solar time) on ``date``.

    lon, lat : degrees (WGS84/CGCS2000); epsg : the city CRS, for the grid azimuth (None: true azimuth).
    """
    import pandas as pd
    from pvlib import solarposition, spa

    start, end = window
    n = max(1, int(round((end - start) / step_min)))
    if abs(n * step_min - (end - start)) > 1e-6:
        raise ValueError(f"the window {end - start:g} min is not a whole number of {step_min:g}-minute steps")
    minutes = start + (np.arange(n) + 0.5) * step_min
    midnight = pd.Timestamp(date.isoformat(), tz="UTC")
    delta_t = float(spa.calculate_deltat(date.year, date.month))
    eot = np.zeros(n)
    for _ in range(3):  # UTC = TST - lon/15 h - EoT; EoT depends (weakly) on the instant
        utc = midnight + pd.to_timedelta(minutes - 4.0 * lon - eot, unit="min")
        pos = solarposition.spa_python(utc, lat, lon, altitude=elevation, delta_t=delta_t)
        new = pos["equation_of_time"].to_numpy()
        done = np.max(np.abs(new - eot)) < 1e-4
        eot = new
        if done:
            break
    alt = pos["apparent_elevation" if refraction else "elevation"].to_numpy(dtype=float)
    az = pos["azimuth"].to_numpy(dtype=float)
    bearing = grid_north_bearing(lon, lat, epsg) if epsg else 0.0
    return SunTrack(
        date=date,
        lon=float(lon),
        lat=float(lat),
        start_min=float(start),
        end_min=float(end),
        step_min=float(step_min),
        minutes=minutes,
        azimuth=az,
        altitude=alt,
        grid_azimuth=np.mod(az + bearing, 360.0),
        utc=utc.tz_convert(None).to_numpy(),
        north_bearing=bearing,
    )
