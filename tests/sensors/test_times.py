"""ISO 8601 instants <-> ms: the vectorised paths agree with the one-by-one parser and numpy's formatter."""

from __future__ import annotations

import numpy as np
import pytest

from cim.errors import InvalidParameter
from cim.sensors.times import iso_array, parse_ms, parse_ms_array


def test_fixed_width_parse_agrees_with_the_general_parser():
    rng = np.random.default_rng(5)
    ms = rng.integers(-30_000_000_000_000, 250_000_000_000_000, 3000)  # years 1019 .. 9891
    for unit in ("ms", "s"):
        text = [s + "Z" for s in np.datetime_as_string(ms.astype("datetime64[ms]"), unit=unit).tolist()]
        want = np.array([parse_ms(s) for s in text])
        assert np.array_equal(parse_ms_array(text), want)
    leap = ["2024-02-29T23:59:59.999Z", "2000-02-29T00:00:00.000Z", "1970-01-01T00:00:00.000Z"]
    assert parse_ms_array(leap).tolist() == [1709251199999, 951782400000, 0]


@pytest.mark.parametrize(
    "bad",
    [
        "2026-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T00:60:00Z",
        "2026-01-0xT00:00:00Z",
    ],
)
def test_out_of_range_fields_fall_back_and_are_refused(bad):
    with pytest.raises(InvalidParameter) as err:
        parse_ms_array(["2026-01-01T00:00:00Z", bad], "phenomenonTime")
    assert err.value.parameter == "phenomenonTime" and bad in str(err.value)


def test_mixed_forms_take_the_general_path():
    text = ["2026-01-01T00:00:00Z", "2026-01-01T00:00:00.250Z", "2026-01-01T08:00:00+08:00", "2026-01-01"]
    assert parse_ms_array(text).tolist() == [1767225600000, 1767225600250, 1767225600000, 1767225600000]


def test_iso_array_agrees_with_numpy():
    rng = np.random.default_rng(6)
    ms = np.concatenate([rng.integers(-62_135_596_800_000, 253_402_300_799_999, 5000), [0, -1, 86_399_999]])
    want = [s + "Z" for s in np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms").tolist()]
    assert iso_array(ms) == want
    assert iso_array(np.array([-1])) == ["1969-12-31T23:59:59.999Z"] and iso_array(np.zeros(0)) == []
