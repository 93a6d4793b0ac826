"""Never a silently wrong answer (issue 13): every refusal through every channel, strict
numbers, provenance of settings and overlay entries, and patient wording."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leuko_cli import inputs
from leuko_cli.errors import InputError

# (request fields as typed, fragment of the refusal)
REFUSALS = [
    ({"anc": "0,45", "unit": "G/L"}, "decimal comma; use a dot: 0.45"),
    ({"anc": "1,500"}, "thousands separator"),
    ({"anc": "1 500"}, "thousands separator"),
    ({"anc": "450/uL"}, "unit glued"),
    ({"anc": "450cells"}, "unit glued"),
    ({"anc": "4.5e2"}, "exponent"),
    ({"anc": ""}, "is empty"),
    ({"anc": "   "}, "is empty"),
    ({"wbc": "3000", "neutrophils": ""}, "is empty"),
    ({"anc": "450", "age": "0,5"}, "decimal comma"),
    ({"anc": "450", "lln": "1,8"}, "decimal comma"),
    ({"anc": "450", "unit": "10^9/L"}, "implausibly high"),
    ({"anc": "3.2"}, "implausibly low"),
    ({"anc": "5000", "wbc": "3000"}, "above the WBC"),
    ({"lymphocytes": "3500", "wbc": "3000"}, "above the WBC"),
    ({"anc": "2000", "lymphocytes": "1500", "wbc": "3000"}, "exceed the WBC"),
    ({"wbc": "3000", "neutrophils": "60", "bands": "50"}, "exceeds 100%"),
    ({"anc": "1800", "wbc": "6000", "neutrophils": "40"}, "disagree"),
    ({"anc": "450", "age": "3x"}, "unknown age unit"),
    ({"anc": "450", "temp": "38,6"}, "use a dot"),
]


@pytest.mark.parametrize("case,fragment", REFUSALS)
def test_refused_on_the_command_line(invoke, case, fragment):
    argv = [x for k, val in case.items() for x in (f"--{k.replace('_', '-')}", val)]
    res = invoke("assess", *argv)
    assert res.exit_code == 2, res.stdout
    assert fragment in res.stderr and res.stderr.count("\n") == 1


@pytest.mark.parametrize("case,fragment", REFUSALS)
def test_refused_in_csv_and_jsonl_rows_alike(invoke, case, fragment):
    names = sorted(case)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", *names])
    writer.writerow(["r1", *(case[n] for n in names)])
    csv_row = next(
        csv.DictReader(io.StringIO(invoke("assess", "--input", "-", input=buf.getvalue()).stdout))
    )
    jsonl = invoke("assess", "--input", "-", "--json", input=json.dumps({"id": "r1", **case}))
    json_row = json.loads(jsonl.stdout)
    if "" in case.values():
        # an empty CSV cell is how a table says 'absent' (never zero): the row is read without
        # that field; JSON says absent with null, so an empty string there is refused
        assert "is empty" in json_row["error"]
        assert "is empty" not in csv_row["error"]
        return
    assert fragment in csv_row["error"] and fragment in json_row["error"]
    assert csv_row["error"] == json_row["error"]


def test_repeated_single_value_flags_are_refused(invoke):
    res = invoke("assess", "--anc", "450", "--temp", "37", "--temp", "38.6")
    assert res.exit_code == 2 and "'37' and '38.6'" in res.stderr
    assert invoke("assess", "--anc=450", "--anc", "500").exit_code == 2


PLAIN = st.from_regex(r"\+?[0-9]{1,6}(\.[0-9]{1,4})?", fullmatch=True)


@given(text=st.text(max_size=12))
@settings(max_examples=300)
def test_any_string_is_refused_or_read_exactly(text):
    try:
        value = inputs.number(text, "--anc")
    except InputError:
        return
    # accepted: it was a plain decimal, and it reads as exactly that decimal
    stripped = text.strip()
    assert stripped.lstrip("+-").replace(".", "", 1).isdigit()
    assert value == float(stripped)


@given(text=PLAIN)
def test_plain_decimals_are_read_exactly(text):
    assert inputs.number(text, "--anc") == float(text)


_KB: list = []


@given(cells=st.integers(min_value=10, max_value=99_999))
@settings(max_examples=100)
def test_the_same_count_in_both_units_gets_the_same_grades(cells):
    from leuko_cli import assess as core
    from leuko_cli import kb as kbmod
    from leuko_cli.settings import resolve_all

    if not _KB:
        _KB.append(kbmod.load(overlay=False, use_cache=False))
    kb = _KB[0]
    resolved = resolve_all(kb)
    a = core.assess(kb, {"anc": str(cells), "unit": "cells/uL"}, resolved)
    b = core.assess(kb, {"anc": f"{cells / 1000:.3f}", "unit": "10^9/L"}, resolved)
    assert (a["severity"], a["ctcae_grade"], a["below_reference"]) == (
        b["severity"],
        b["ctcae_grade"],
        b["below_reference"],
    )


# --- provenance -------------------------------------------------------------------------------


def test_a_unit_from_the_config_file_is_named(invoke):
    invoke("config", "set", "unit", "G/L")
    out = json.loads(invoke("assess", "--anc", "0.45", "--json").stdout)
    assert out["settings"]["unit"]["origin"].startswith("config file ")
    human = invoke("assess", "--anc", "0.45").stdout
    assert "unit 10^9/L (config file" in " ".join(human.split())
    # the README's trap: 450 typed while the config says 10^9/L is refused, not graded normal
    res = invoke("assess", "--anc", "450")
    assert res.exit_code == 2 and "--unit cells/uL" in res.stderr


def test_the_default_ctcae_version_is_named_and_explained(invoke):
    out = json.loads(invoke("assess", "--anc", "800", "--json").stdout)
    assert out["ctcae_version_origin"] == "default"
    assert any("--ctcae-version 5.0" in n for n in out["notes"])
    chosen = json.loads(invoke("assess", "--anc", "800", "--ctcae-version", "5.0", "--json").stdout)
    assert chosen["ctcae_version_origin"] == "flag"
    assert not any("--ctcae-version 5.0" in n for n in chosen["notes"])


def test_an_overlay_scale_is_marked_in_both_outputs(invoke, isolated_dirs, kb):
    import tomli_w

    scale = dict(kb.get("scales", kb.settings["severity_scale"]))
    scale = {
        k: v for k, v in scale.items() if k not in ("source", "source_location") and v is not None
    }
    scale["bands"] = [{k: v for k, v in b.items() if v is not None} for b in scale["bands"]]
    scale["bands"][0]["upper"] = 600  # severe below 600 in this overlay
    scale["bands"][1]["lower"] = 600
    overlay = isolated_dirs / "data" / "overlay.toml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text(tomli_w.dumps({"scales": [scale]}))
    out = json.loads(invoke("assess", "--anc", "550", "--json").stdout)
    assert out["severity"] == "severe"
    assert any(e.startswith(str(overlay)) for e in out["overlay_entries"])
    human = " ".join(invoke("assess", "--anc", "550").stdout.split())
    assert "From your overlay: " + str(overlay) in human


# --- patient wording --------------------------------------------------------------------------


@pytest.mark.parametrize("anc", ["300", "800", "1200", "1600"])
def test_patients_are_never_told_to_start_stop_or_continue_a_drug(invoke, anc):
    out = invoke("assess", "--anc", anc, "--drug", "clozapine", "--audience", "patient").stdout
    low = " ".join(out.split("References")[0].lower().split())  # the answer, not the sources
    for word in (
        "continue clozapine",
        "interrupt",
        "start or continue",
        "stop clozapine",
        "resume",
    ):
        assert word not in low
    assert "prescribe" in low
    assert "anc" not in low.split() and "ctcae" not in low


# a patient text that tells the reader what to do with a medicine: take, stop, start, keep,
# change it (the care team's actions may be described; the reader is never told)
DRUG_INSTRUCTION = re.compile(
    r"\b(do not|don't|never|always)\s+(take|stop|start|change|skip|miss)\b"
    r"|\b(stop|start|keep|continue|resume|restart)\s+(taking|using|the medicine|the drug|it)\b",
    re.IGNORECASE,
)


def _patient_texts(node, where=""):
    """Every patient-facing text of the KB: fields whose name starts with 'patient_'."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{where}.{node.get('id', key)}"
            if key.startswith("patient_") and isinstance(value, str):
                yield here + "." + key, value
            else:
                yield from _patient_texts(value, here)
    elif isinstance(node, list):
        for item in node:
            yield from _patient_texts(item, where)


def test_no_patient_text_in_the_kb_tells_the_reader_what_to_do_with_a_drug(kb):
    import tomllib

    from leuko_cli import kb as kbmod

    texts = list(_patient_texts(tomllib.loads(kbmod.bundled_path().read_text("utf-8"))))
    assert len(texts) > 100  # causes, presentation, management, settings, scale bands
    assert [(w, t) for w, t in texts if DRUG_INSTRUCTION.search(t)] == []


@pytest.mark.parametrize(
    "text",
    [
        "Do not take it again unless a doctor says so.",
        "do not change how you take it on your own",
        "Keep taking your tablets.",
        "Stop the medicine if you get a rash.",
    ],
)
def test_the_drug_instruction_check_catches_instructions(text):
    assert DRUG_INSTRUCTION.search(text)


def test_manage_for_patients_has_no_instruction_heading(invoke):
    out = " ".join(invoke("manage", "--audience", "patient").stdout.split())
    assert "Stop the offending drug" not in out
    assert not DRUG_INSTRUCTION.search(out.split("References")[0])


def test_patient_emergency_does_not_assume_a_cancer_team(invoke):
    out = invoke("assess", "--anc", "300", "--temp", "39", "--audience", "patient").stdout
    answer = out.split("References")[0]
    assert "URGENT" in answer and "cancer" not in answer.lower()


def test_patient_recheck_for_a_reading_just_under_the_rule(invoke):
    out = " ".join(
        invoke("assess", "--anc", "300", "--temp", "38.1", "--audience", "patient").stdout.split()
    )
    assert "again in an hour" in out


@pytest.mark.parametrize(
    "args",
    [
        ("manage",),
        ("causes", "show", "clozapine"),
        ("assess", "--anc", "450"),
    ],
)
def test_patient_answers_end_with_the_patient_disclaimer(invoke, kb, args):
    out = invoke(*args, "--audience", "patient").stdout
    assert out.rstrip().endswith(" ".join(kb.settings["patient_disclaimer"].split()[-4:]))
    assert " ".join(kb.settings["patient_disclaimer"].split()) in " ".join(out.split())
    assert kb.settings["disclaimer"] not in out
    # the JSON answer carries the same disclaimer as the text (it carried the clinician one)
    data = json.loads(invoke(*args, "--audience", "patient", "--json").stdout)
    assert data["disclaimer"] == kb.settings["patient_disclaimer"]
    clinician = json.loads(invoke(*args, "--audience", "clinician", "--json").stdout)
    assert clinician["disclaimer"] == kb.settings["disclaimer"]


def _overlay_ctcae6_anc(isolated_dirs, kb):
    """An overlay that moves CTCAE 6.0's ANC grade 1/0 boundary to 1600; its path."""
    import tomli_w

    scale = dict(kb.get("scales", "ctcae-6.0-neutrophil-count-decreased"))
    scale = {
        k: v for k, v in scale.items() if k not in ("source", "source_location") and v is not None
    }
    scale["bands"] = [{k: v for k, v in b.items() if v is not None} for b in scale["bands"]]
    for b in scale["bands"]:
        b.update({k: 1600 for k in ("lower", "upper") if b.get(k) == 1500})
    overlay = isolated_dirs / "data" / "overlay.toml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text(tomli_w.dumps({"scales": [scale]}))
    return overlay


def test_scales_marks_an_overlay_scale(invoke, isolated_dirs, kb):
    overlay = _overlay_ctcae6_anc(isolated_dirs, kb)
    rows = json.loads(invoke("scales", "--json").stdout)
    rows = rows if isinstance(rows, list) else rows["scales"]
    mine = next(s for s in rows if s["id"] == "ctcae-6.0-neutrophil-count-decreased")
    assert mine["source"] == "overlay" and mine["origin"].startswith(str(overlay))
    assert next(s for s in rows if s["id"] != mine["id"])["source"] == "bundled"
    human = " ".join(invoke("scales").stdout.split())
    assert "CTCAE 6.0 Neutrophil count decreased (CTCAE 6.0) *" in human
    assert "* from your personal overlay" in human


def test_batch_outputs_name_overlay_grading_entries(invoke, isolated_dirs, kb, tmp_path):
    """A grade read from an overlay scale says so in every channel, not only in assess."""
    overlay = str(_overlay_ctcae6_anc(isolated_dirs, kb))
    labs = tmp_path / "labs.csv"
    labs.write_text("id,anc\na,1550\n")
    r = invoke("assess", "--input", str(labs))
    assert r.stdout.splitlines()[1].split(",")[5] == "1"  # graded with the overlay's bands
    assert overlay in r.stderr
    adlb = tmp_path / "adlb.csv"
    adlb.write_text("USUBJID,PARAMCD,AVAL,AVALU\n1,ANC,1.55,10^9/L\n")
    r = invoke("batch", str(adlb), "--ctcae-version", "6.0")
    assert ",1,CTCAE 6.0," in r.stdout and overlay in r.stderr
    series = tmp_path / "s.csv"
    series.write_text("date,anc\n2024-01-01,1550\n2024-01-02,1200\n")
    d = json.loads(invoke("trend", str(series), "--json").stdout)
    assert any(e.startswith(overlay) for e in d["overlay_entries"])
    assert overlay in " ".join(invoke("trend", str(series)).stdout.split())


def test_a_count_with_no_reference_range_for_the_age_says_so(invoke):
    """Lymphocytes have KB ranges under 2 years and for adults only: at 10 years the comparison
    is unknown, and the answer must say why rather than stay silent."""
    out = json.loads(invoke("assess", "--lymphocytes", "300", "--age", "10", "--json").stdout)
    assert out["lymphocytes"]["below_reference"] is None
    assert any("reference range" in n and "lymphocytes" in n for n in out["notes"])
    human = " ".join(invoke("assess", "--lymphocytes", "300", "--age", "10").stdout.split())
    assert "no lymphocytes reference range" in human
    # the age as given, as the range's chosen_by says it (36f418e), not 'age 3652.5 days'
    assert any(n.endswith("for age 10 years") for n in out["notes"])


@pytest.mark.parametrize("version", ["4.03", "5.0", "6.0"])
def test_fever_with_a_possibly_falling_count_is_an_emergency_in_every_version(invoke, version):
    """IDSA's 'expected to fall below 500' window does not depend on the CTCAE version chosen:
    fever with an ANC of 700 is an emergency under 4.03 too (the KB has no 4.03 CTCAE
    febrile-neutropenia rule; that must leave the AE ungraded with a reason, not drop the
    emergency)."""
    args = ("assess", "--anc", "700", "--temp", "38.6", "--ctcae-version", version)
    out = json.loads(invoke(*args, "--json").stdout)
    assert out["febrile_neutropenia"] is False
    assert out["febrile_neutropenia_if_falling"] is True and out["emergency"]
    if "ctcae_febrile_neutropenia" not in out:
        assert any("Febrile neutropenia" in n and version in n for n in out["notes"])
    assert "TREAT AS AN EMERGENCY" in invoke(*args).stdout
