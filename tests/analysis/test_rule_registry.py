"""Rule sets as a registry: the screening sets and the pipeline rules, loaded by name with a city's overrides."""

from __future__ import annotations

import pytest

from cim.analysis.compliance import PipelineRules as FromCompliance
from cim.errors import InvalidParameter
from cim.rules import RuleSet
from cim.rules.pipelines import PipelineRules
from cim.rules.registry import RuleSetEntry, get_rule_set, load_rules, register_rule_set, rule_sets


def test_builtin_rule_sets():
    sets = rule_sets()
    assert list(sets)[:4] == ["gb50352_height_classes", "gb50016_fire_classes", "jianke_2021_76", "notice_2020"]
    assert sets["pipelines"].used_by == "pipe-compliance" and sets["jianke_2021_76"].used_by == "high-rise"
    fire = load_rules("gb50016_fire_classes")
    assert isinstance(fire, RuleSet) and fire.rules
    assert FromCompliance is PipelineRules  # the schema moved; the old name still works


def test_overrides_apply_and_are_checked():
    rules = load_rules("pipelines", {"cover.gas.motor_lane": 1.25})
    assert rules.get("cover.gas.motor_lane").value == 1.25
    assert load_rules("pipelines").get("cover.gas.motor_lane").value != 1.25
    ban = load_rules("jianke_2021_76", {"76.ban.ge3m": 450.0})
    assert {r.id: r for r in ban.rules}["76.ban.ge3m"].threshold == 450.0
    with pytest.raises(InvalidParameter):
        load_rules("pipelines", {"no.such.rule": 1.0})
    with pytest.raises(InvalidParameter) as exc:
        get_rule_set("nope")
    assert "pipelines" in str(exc.value)


def test_a_new_rule_set_is_one_registration():
    entry = RuleSetEntry("toy", "Toy rules", "toy-analysis", lambda overrides: {"limit": 10.0, **(overrides or {})})
    register_rule_set(entry)
    try:
        assert load_rules("toy", {"limit": 3.0}) == {"limit": 3.0}
        with pytest.raises(ValueError):
            register_rule_set(entry)
    finally:
        from cim.rules.registry import RULE_SETS

        RULE_SETS.pop("toy", None)


def test_every_shipped_rule_file_is_listed_and_loads():
    """The listing comes from the files: every cim/rules/*.toml is a rule set under its stem, with a title, a
    user (an analysis id where the first word is one) and a loader; those without overrides refuse them."""
    from pathlib import Path

    import cim.rules
    from cim.analysis.registry import analyses

    files = sorted(p.stem for p in Path(cim.rules.__file__).parent.glob("*.toml"))
    assert {"storms", "complete_community", "osm_tags", "shelters", "gb50180_sunlight"} <= set(files)
    sets = rule_sets()
    assert set(files) <= set(sets)
    ids = set(analyses())
    for stem in files:
        entry = sets[stem]
        assert entry.name == stem and entry.title and entry.used_by, stem
        first = entry.used_by.split(",")[0].split()[0]
        assert first in ids or first == "import", (stem, entry.used_by)
        assert load_rules(stem), stem  # loads, and is not empty
    assert load_rules("storms")["formulas"]["shenyang"]["n"] == 0.77
    assert [c.distance_m for c in load_rules("living_circles")] == [300.0, 500.0, 1000.0]
    assert load_rules("shelters").area_per_person.value_m2 == 1.5
    assert any(r["kind"] == "kindergarten" for r in load_rules("osm_tags")["facilities"])
    with pytest.raises(InvalidParameter, match="takes no overrides"):
        load_rules("storms", {"formulas.shenyang.n": 0.8})
