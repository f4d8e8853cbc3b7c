"""KPI definitions: the catalogue covers DESIGN §5, and bad definitions are reported all at
once with file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from metrics.catalog import load_catalog

CORE = {
    "gov.online_case_rate", "gov.on_time_rate", "gov.avg_visits", "gov.good_rating_rate",
    "gov.rectification_rate", "gov.online_capable_rate", "grid.registration_rate",
    "grid.closure_rate", "grid.on_time_closure_rate", "grid.rework_rate",
    "vol.service_hours", "vol.active_rate", "vol.registered_per_1000",
    "civic.property_fee_collection_rate",
}

BAD = """\
domain: gov
label: {zh: 政务服务, en: Government services}
kpis:
  - id: gov.good_one
    label: {zh: 好, en: Good}
    description: fine
    table: service_cases
    time: submitted_at
    measure: {measure: count}
    unit: count
    direction: higher

  - id: gov.bad_table
    label: {zh: 坏, en: Bad}
    description: unknown table
    table: service_casez
    measure: {measure: count}
    unit: count
    direction: higher

  - id: gov.bad_column
    label: {zh: 坏, en: Bad}
    description: unknown column and a value outside the codes
    table: service_cases
    time: submitted_at
    numerator:
      measure: sum
      column: visitz
      filter: [{column: channel, op: eq, value: fax}]
    denominator: {measure: count}
    unit: ratio
    direction: higher

  - id: grid.wrong_domain
    label: {zh: 坏, en: Bad}
    description: a grid id in the gov file, and a target below its warning
    table: service_cases
    time: submitted_at
    measure: {measure: count}
    unit: count
    direction: higher
    target: 0.5
    warning: 0.9
"""


def test_catalogue_covers_the_core_kpis_with_their_ids() -> None:
    cat = load_catalog()
    assert set(cat.kpis) >= CORE
    assert {k.domain for k in cat.kpis.values()} == {"gov", "grid", "vol", "party", "civic",
                                                     "hotline", "street"}
    assert cat.get("gov.online_capable_rate").target == 0.9
    assert cat.get("gov.retained_certificates").target == 13
    assert cat.get("party.certified_social_worker_rate").target == 0.5
    assert cat.get("civic.property_fee_collection_rate").target == 0.88
    assert all(k.description and k.label.zh and k.label.en for k in cat.kpis.values())


def test_every_problem_is_reported_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "gov.yaml").write_text(BAD, encoding="utf-8")
    (tmp_path / "vol.yaml").write_text("domain: vol\nkpis: [\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_catalog(tmp_path)
    msg = str(e.value)
    gov = tmp_path / "gov.yaml"
    assert f"{gov}:16: gov.bad_table: unknown table 'service_casez'" in msg
    assert "unknown column 'visitz' in service_cases" in msg
    assert "'fax' is not a value of service_cases.channel" in msg
    assert "id must start with the file's domain 'gov.'" in msg
    assert "warning must not exceed the target" in msg
    assert f"{tmp_path / 'vol.yaml'}:" in msg and "not valid YAML" in msg
    assert "gov.good_one" not in msg


def test_targets_apply_by_kind_unless_the_catalogue_says_where() -> None:
    """A count's or a sum's target is a district figure (5,000 members checked in) and says
    nothing about one community; a ratio's or an average's holds at every level."""
    from core.divisions import SCOPE_LEVELS as LEVELS  # targets hold down to the grid
    from metrics.status import target_for

    cat = load_catalog()
    with_target = [k for k in cat.kpis.values() if k.target is not None]
    assert any(k.additive for k in with_target) and any(not k.additive for k in with_target)
    for k in with_target:
        agg = k.measure.agg if k.measure is not None else "ratio"
        expected = k.target_scopes or (("district",) if agg in ("count", "sum",
                                                                "count_distinct") else LEVELS)
        assert k.target_levels == expected, k.id
        for level in LEVELS:
            assert target_for(k, level) == ((k.target, k.warning) if level in expected
                                            else (None, None)), (k.id, level)
    members = cat.get("party.checked_in_members")
    assert target_for(members, "district") == (5000, None)
    assert target_for(members, "community") == (None, None)
    assert target_for(cat.get("gov.online_case_rate"), "community") == (0.6, 0.5)
    assert target_for(cat.get("grid.mean_hours_to_close"), "grid")[0] == 72  # an average
    assert cat.get("vol.service_hours").target_levels == ()  # no target at all


def test_target_scopes_are_checked(tmp_path: Path) -> None:
    base = ("domain: gov\nlabel: {zh: 政务服务, en: Government services}\nkpis:\n"
            "  - id: gov.%s\n    label: {zh: 件, en: Cases}\n    description: x\n"
            "    table: service_cases\n    time: submitted_at\n    measure: {measure: count}\n"
            "    unit: count\n    direction: higher\n%s\n")
    cases = {"no_target": "    target_scopes: [district]",
             "twice": "    target: 10\n    target_scopes: [street, street]",
             "empty": "    target: 10\n    target_scopes: []",
             "unknown": "    target: 10\n    target_scopes: [city]"}
    (tmp_path / "gov.yaml").write_text(
        base.split("  - id")[0] + "".join("  - id" + (base.split("  - id")[1] % (k, v))
                                          for k, v in cases.items()), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_catalog(tmp_path)
    msg = str(e.value)
    assert "gov.no_target: kpi: Value error, 'target_scopes' says where the target applies, " \
           "but there is no 'target'" in msg
    assert "gov.twice: kpi: Value error, 'target_scopes' lists a level twice" in msg
    assert "gov.empty: kpi: Value error, 'target_scopes' must list at least one level" in msg
    assert "gov.unknown: target_scopes.0:" in msg
    # a count may still say its target holds for streets too (explicitly)
    (tmp_path / "gov.yaml").write_text(
        base % ("street_count", "    target: 10\n    target_scopes: [district, street]"),
        encoding="utf-8")
    k = load_catalog(tmp_path).get("gov.street_count")
    assert k.target_levels == ("district", "street")
