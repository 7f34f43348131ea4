"""ISO 8601 instants <-> integer milliseconds since 1970-01-01 UTC (the sensor tables' time unit), vectorised."""

from __future__ import annotations

import re
from datetime import UTC, datetime
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


def parse_ms_array(values: list[Any], parameter: str = "phenomenonTime") -> np.ndarray:
    """Many instants -> int64 ms, (n,).  Fast path: every value ``...Z`` (numpy parses them); else one by one."""
    if not values:
        return np.zeros(0, dtype=np.int64)
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


def iso_array(ms: np.ndarray) -> list[str]:
    """int64 ms (n,) -> ISO strings with milliseconds and ``Z``."""
    if len(ms) == 0:
        return []
    s = np.datetime_as_string(np.asarray(ms, dtype=np.int64).astype("datetime64[ms]"), unit="ms")
    return [x + "Z" for x in s.tolist()]


def now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)
