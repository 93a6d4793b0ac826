"""Issue 15 (regions): monitoring rules that differ by country are separate KB tables with their
source, and the `region` setting (flag > LEUKO_REGION > config file > KB default) chooses.

The UK boundary table below is written from the source (NHS Greater Glasgow & Clyde,
"Physical Health Monitoring (Clozapine)"; clinical-facts 6.4), not from the KB: green WBC >= 3.5
and neutrophils >= 2.0; amber WBC 3.0-<3.5 and/or neutrophils 1.5-<2.0; red WBC < 3.0 and/or
neutrophils < 1.5 (x 10^9/L).
"""

from __future__ import annotations

import copy
import json
import tomllib

import pytest

from leuko_cli import assess as core
from leuko_cli import kb as kbmod
from leuko_cli.errors import KBError
from leuko_cli.settings import resolve_all

# (WBC, neutrophils) in 10^9/L -> UK status
UK_TABLE = [
    (3.5, 2.0, "green"),
    (9.0, 6.0, "green"),
    (3.49, 2.0, "amber"),
    (3.5, 1.99, "amber"),
    (3.0, 1.5, "amber"),
    (3.0, 2.5, "amber"),
    (2.99, 2.0, "red"),
    (3.5, 1.49, "red"),
    (3.2, 1.7, "amber"),
    (2.99, 1.49, "red"),
    (2.5, 0.3, "red"),
]


def _uk(kb, **values):
    request = {"unit": "10^9/L", "drug": "clozapine", "region": "UK", **values}
    return core.assess(kb, request, resolve_all(kb))["drug_monitoring"]


@pytest.mark.parametrize(("wbc", "anc", "status"), UK_TABLE)
def test_uk_traffic_light_boundaries(kb, wbc, anc, status):
    mon = _uk(kb, wbc=str(wbc), anc=str(anc))
    assert (mon["category"], mon["complete"], mon["region"]) == (status, True, "UK")
    if status == "red":
        assert "stop" in mon["action"].lower() and "daily" in mon["monitoring"].lower()
    if status == "amber":
        assert "twice weekly" in mon["monitoring"].lower()


@pytest.mark.parametrize(
    ("anc", "category", "complete"),
    [(1.49, "red", True), (1.5, "amber or worse", False), (2.0, "green or worse", False)],
)
def test_uk_without_a_wbc_says_what_is_unknown(kb, anc, category, complete):
    mon = _uk(kb, anc=str(anc))
    assert (mon["category"], mon["complete"]) == (category, complete)
    assert ("--wbc" in (mon["note"] or "")) is not complete


def test_us_table_is_still_the_default(kb):
    mon = core.assess(kb, {"anc": "1200", "drug": "clozapine"}, resolve_all(kb))
    assert mon["drug_monitoring"]["region"] == "US"
    assert mon["drug_monitoring"]["category"] == "mild neutropenia"
    assert mon["settings"]["region"] == {"value": "US", "origin": "default"}


def _region(invoke, *extra):
    r = invoke("assess", "--anc", "1800", "--drug", "clozapine", "--json", *extra)
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    mon = out["drug_monitoring"]
    assert out["settings"]["region"] == {"value": mon["region"], "origin": mon["region_origin"]}
    return mon["region"], mon["region_origin"]


def test_region_by_flag_env_config_default(invoke, monkeypatch):
    assert _region(invoke) == ("US", "default")
    assert invoke("config", "set", "region", "uk").exit_code == 0
    region, origin = _region(invoke)
    assert region == "UK" and origin.startswith("config file")
    monkeypatch.setenv("LEUKO_REGION", "US")
    assert _region(invoke) == ("US", "environment LEUKO_REGION")
    assert _region(invoke, "--region", "UK") == ("UK", "flag")


@pytest.mark.parametrize("how", ["flag", "env", "config"])
def test_unknown_region_is_refused_with_the_choices(invoke, monkeypatch, how):
    if how == "flag":
        r = invoke("assess", "--anc", "1800", "--drug", "clozapine", "--region", "FR")
    elif how == "env":
        monkeypatch.setenv("LEUKO_REGION", "FR")
        r = invoke("assess", "--anc", "1800", "--drug", "clozapine")
    else:
        r = invoke("config", "set", "region", "FR")
    assert r.exit_code == 2
    assert "'FR'" in r.stderr and "UK, US" in r.stderr


def test_human_output_names_the_region(invoke):
    out = invoke(
        "assess",
        "--anc",
        "1.8",
        "--wbc",
        "3.2",
        "--unit",
        "10^9/L",
        "--drug",
        "clozapine",
        "--region",
        "UK",
    ).stdout
    assert "Region: UK (flag)" in out and "amber" in out


def test_patient_view_gives_no_drug_instruction(invoke):
    out = invoke(
        "assess",
        "--anc",
        "1.2",
        "--unit",
        "10^9/L",
        "--drug",
        "clozapine",
        "--region",
        "UK",
        "--audience",
        "patient",
    ).stdout
    lowered = out.lower()
    assert "stop clozapine" not in lowered and "continue clozapine" not in lowered
    assert "UK" in out


@pytest.mark.parametrize(("extra", "region"), [((), "US"), (("--region", "UK"), "UK")])
def test_meds_shows_the_chosen_regions_table(invoke, extra, region):
    out = json.loads(invoke("meds", "Zaponex", "--json", *extra).stdout)
    assert out["region"]["value"] == region
    tables = out["results"][0]["entries"][0]["region_monitoring"]
    assert tables and {t["region"] for t in tables} == {region}
    assert all(t["schedule"] and t["references"] for t in tables)
    assert set(tables[0]["references"]) <= set(out["references"])


def test_meds_human_names_the_region(invoke):
    out = invoke("meds", "clozapine", "--region", "UK").stdout
    assert "Region: UK (flag)" in out and "18 weeks" in out


def test_default_region_must_exist_in_the_kb():
    data = tomllib.loads(kbmod.bundled_path().read_text("utf-8"))
    bad = copy.deepcopy(data)
    bad["settings"]["default_region"] = "FR"
    with pytest.raises(KBError) as err:
        kbmod.check_references(kbmod.merge(kbmod.validate(bad), None))
    assert any("default_region" in p for p in err.value.problems)
