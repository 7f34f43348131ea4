"""Issue 15: existing buildings never get a new-construction verdict; unknown use is screened strictly and said."""

from __future__ import annotations

import pytest

from cim.analysis import screen_proposals
from cim.model import City
from cim.rules import Verdict

from .. import common

X0, Y0 = common.ORIGIN
BIG = City(name="big", urban_population=9_000_000)


def one(height: float, use: str, new: bool):
    fp = [[(X0, Y0), (X0 + 30, Y0), (X0 + 30, Y0 + 30), (X0, Y0 + 30)]]
    return screen_proposals(BIG, [{"id": "p", "footprint": fp, "height": height, "use": use, "new": new}])[0]


def test_existing_110_m_residential_is_a_register_entry_not_not_allowed():
    existing, proposed = one(110.0, "residential", False), one(110.0, "residential", True)
    assert proposed.verdict is Verdict.not_allowed
    assert existing.verdict is Verdict.exceeds_new_build_limit
    r = next(r for r in existing.reasons if r.rule == "76.no-ultra-high-rise-residential")
    assert r.verdict is Verdict.exceeds_new_build_limit and r.clause == "严格控制新建超高层建筑"
    assert all(r.verdict not in (Verdict.restricted, Verdict.not_allowed) for r in existing.reasons)
    # the rule on existing buildings only still applies to them
    assert "76.existing.rescue-capacity" in {r.rule for r in existing.reasons}


@pytest.mark.parametrize(
    ("height", "use", "new_verdict"), [(260.0, "public", "restricted"), (510.0, "public", "not-allowed")]
)
def test_existing_over_the_height_limits(height, use, new_verdict):
    assert one(height, use, True).verdict.value == new_verdict
    assert one(height, use, False).verdict is Verdict.exceeds_new_build_limit


def test_unknown_use_is_screened_under_the_stricter_rules_and_says_so():
    # 25 m: high-rise as public (> 24 m), not as residential (> 27 m): unknown takes the stricter
    r = one(25.0, "unknown", True)
    assert r.height_class == "high-rise" and one(25.0, "residential", True).height_class == "low-multi-storey"
    assert r.reasons and all("use unknown" in x.note for x in r.reasons)
    # 101 m: the residential ban applies to a building that might be housing
    assert one(101.0, "unknown", True).verdict is Verdict.not_allowed


def test_openapi_documents_the_verdict_set():
    from api.main import create_app
    from api.settings import Settings

    schema = create_app(Settings(store=":memory:")).openapi()
    text = str(schema)
    assert "exceeds-new-build-limit" in text and "new construction" in text
