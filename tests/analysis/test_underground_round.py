"""``round6``: the features' volumes rounded in numpy, the same floats as Python's ``round(v, 6)``."""

import numpy as np

from cim.analysis.underground import round6


def test_round6_equals_round_on_random_ties_and_large_values():
    rng = np.random.default_rng(16)
    parts = []
    for scale in (1e-9, 1e-6, 1e-3, 1.0, 37.0, 1e3, 1e5, 1e8, 1e10, 1e13):
        x = rng.random(2000) * scale
        # values already on the grid, one digit finer, and exact halves between grid points (the ties)
        parts += [x, np.round(x, 6), np.round(x, 7), (np.floor(x * 1e6) + 0.5) / 1e6]
    x = np.concatenate(parts + [np.array([0.0, 0.5e-6, 1.5e-6, 2.5e-6, 2.675, 1e-9, 2.0**53, 2.0**60])])
    got = round6(x)
    want = [round(float(v), 6) for v in x]
    assert len(got) == len(want)
    bad = [(float(v), g, w) for v, g, w in zip(x, got, want, strict=True) if g != w]
    assert bad == []
    assert all(type(g) is float for g in got)
    assert round6(np.zeros(0)) == []
