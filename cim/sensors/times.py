"""ISO 8601 instants <-> integer milliseconds since 1970-01-01 UTC (the sensor tables' time unit), vectorised."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import InvalidParameter

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$")


def parse_ms(value: Any, parameter: str = "time") -> int:
    """One ISO 8601 instant (``2026-01-01T00:00:00Z``; no zone means UTC) -> ms since the epoch.

    A ``start/end`` interval is refused: this service stores instants."""
    if isinstance(value, datetime):
        dt = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(round(dt.timestamp() * 1000))
    if isinstance(value, np.datetime64):
        return int(value.astype("datetime64[ms]").astype(np.int64))
    if not isinstance(value, str) or not _ISO.match(value.strip()):
        raise InvalidParameter(parameter, f"Not an ISO 8601 instant: {value!r} (e.g. 2026-01-01T00:00:00Z).")
    s = value.strip()
    if s.endswith("Z"):
        s = s[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(s)
    except ValueError as exc:
        raise InvalidParameter(parameter, f"Not an ISO 8601 instant: {value!r} ({exc}).") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(round(dt.timestamp() * 1000))


_DIGITS = {20: [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]}
_DIGITS[24] = [*_DIGITS[20], 20, 21, 22]
_SEPS = {20: {4: b"-", 7: b"-", 10: b"T", 13: b":", 16: b":", 19: b"Z"}}
_SEPS[24] = {**_SEPS[20], 19: b".", 23: b"Z"}
_MONTH_DAYS = np.array([0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _fixed_iso(values: Sequence[Any]) -> np.ndarray | None:
    """``YYYY-MM-DDTHH:MM:SSZ`` or ``YYYY-MM-DDTHH:MM:SS.sssZ``, all of one width, parsed as a byte matrix
    (n, 20|24) with integer arithmetic (civil date -> days: H. Hinnant's algorithm); None when the values
    are not all of that form or a field is out of range (the general parser then says which)."""
    try:
        raw = np.array(values, dtype="S")
    except (UnicodeEncodeError, ValueError, TypeError):
        return None
    w = raw.dtype.itemsize
    if w not in _DIGITS or raw.ndim != 1:
        return None
    b = raw.view(np.uint8).reshape(len(values), w)
    for pos, ch in _SEPS[w].items():
        if not (b[:, pos] == ch[0]).all():
            return None
    d = b[:, _DIGITS[w]].astype(np.int64) - 48
    if d.min() < 0 or d.max() > 9:
        return None
    year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    month, day = d[:, 4] * 10 + d[:, 5], d[:, 6] * 10 + d[:, 7]
    hour, minute, sec = d[:, 8] * 10 + d[:, 9], d[:, 10] * 10 + d[:, 11], d[:, 12] * 10 + d[:, 13]
    ms = d[:, 14] * 100 + d[:, 15] * 10 + d[:, 16] if w == 24 else 0
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    if (
        (month < 1).any()
        or (month > 12).any()
        or (day < 1).any()
        or (day > _MONTH_DAYS[np.clip(month, 0, 12)] - ((month == 2) & ~leap)).any()
        or (hour > 23).any()
        or (minute > 59).any()
        or (sec > 59).any()
    ):
        return None
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
    return ((days * 24 + hour) * 60 + minute) * 60_000 + sec * 1000 + ms


def parse_ms_array(values: Sequence[Any], parameter: str = "phenomenonTime") -> np.ndarray:
    """Many instants -> int64 ms, (n,).  Fast paths: ``YYYY-MM-DDTHH:MM:SS[.sss]Z`` of one width (integer
    arithmetic on the bytes), every value ``...Z`` (numpy parses them); else one by one."""
    if not values:
        return np.zeros(0, dtype=np.int64)
    fixed = _fixed_iso(values)
    if fixed is not None:
        return fixed
    if set(map(type, values)) == {str}:
        arr = np.array(values)  # fixed-width unicode, parsed by numpy in C
        if bool(np.strings.endswith(arr, "Z").all()) and int(np.strings.str_len(arr).min()) >= 11:
            try:
                return np.strings.slice(arr, 0, -1).astype("datetime64[ms]").astype(np.int64)
            except ValueError:
                pass
    return np.array([parse_ms(v, parameter) for v in values], dtype=np.int64)


def iso(ms: int | None) -> str | None:
    """ms -> ``2026-01-01T00:00:00.000Z`` (None stays None)."""
    if ms is None:
        return None
    return np.datetime_as_string(np.int64(ms).astype("datetime64[ms]"), unit="ms") + "Z"


@lru_cache(maxsize=1)
def _clock() -> tuple[list[str], list[str]]:
    """``THH:MM:`` for each minute of a day (1,440) and ``SS.mmmZ`` for each ms of a minute (60,000; 3.5 MB)."""
    hm = [f"T{h:02d}:{m:02d}:" for h in range(24) for m in range(60)]
    return hm, [f"{s:02d}.{f:03d}Z" for s in range(60) for f in range(1000)]


def iso_array(ms: np.ndarray) -> list[str]:
    """int64 ms (n,) -> ISO strings with milliseconds and ``Z``: each distinct day formatted once by numpy,
    the time of day from tables (twice as fast as numpy's per-value formatting for a day of minute data)."""
    if len(ms) == 0:
        return []
    days, tod = np.divmod(np.asarray(ms, dtype=np.int64), 86_400_000)
    uniq, inv = np.unique(days, return_inverse=True)
    dates = np.datetime_as_string(uniq.astype("datetime64[D]")).tolist()
    hm, sf = np.divmod(tod, 60_000)
    hms, sfs = _clock()
    return [
        a + b + c
        for a, b, c in zip(
            map(dates.__getitem__, inv.ravel().tolist()),
            map(hms.__getitem__, hm.tolist()),
            map(sfs.__getitem__, sf.tolist()),
            strict=True,
        )
    ]


def now_ms() -> int:
    """The current time in ms since the epoch."""
    return int(datetime.now(UTC).timestamp() * 1000)
