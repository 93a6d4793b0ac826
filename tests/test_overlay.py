"""The personal overlay (`leuko kb path`), `leuko kb check` and `leuko kb export`.

Tests build overlays from whatever the bundled KB holds (first category, first reference, first
cause), so they keep working as the content grows. Every file lives in conftest's temp dirs.
"""

from __future__ import annotations

import copy
import datetime
import json
import tomllib

import pytest
import tomli_w
from helpers import one_line_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leuko_cli import kb as kbmod
from leuko_cli import paths


def overlay_path():
    return paths.overlay_path()


def write_overlay(doc: dict | str | bytes):
    path = overlay_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(doc, dict):
        doc = tomli_w.dumps(doc)
    path.write_bytes(doc if isinstance(doc, bytes) else doc.encode())
    return path


def local_cause(kb, **changes) -> dict:
    cause = {
        "id": "local-test-neutropenia",
        "name": "Local test neutropenia",
        "category": kb.table("categories")[0]["id"],
        "synonyms": ["ltn"],
        "lineages": ["neutrophils"],
        "summary": "A locally documented cause, for testing the overlay.",
        "patient_summary": "A local note about low white cells.",
        "mechanism": "mixed",
        "mechanism_detail": "Not known.",
        "course": "transient",
        "origin": "extrinsic",
        "features": ["Seen on the local ward"],
        "workup": ["Repeat the count"],
        "management": ["Discuss with haematology"],
        "references": [kb.table("references")[0]["id"]],
        "last_reviewed": datetime.date(2026, 1, 15),
        "review_status": "draft",
    }
    cause.update(changes)
    return cause


# --- kb path and a valid overlay -----------------------------------------------------------


def test_kb_path_prints_overlay_path(invoke, isolated_dirs):
    result = invoke("kb", "path")
    assert result.exit_code == 0
    assert result.stdout.strip() == str(isolated_dirs / "data" / "overlay.toml")


def test_kb_path_json(invoke, isolated_dirs):
    """--json on every command: `kb path --json` was 'No such option'."""
    result = invoke("kb", "path", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "path": str(isolated_dirs / "data" / "overlay.toml"),
        "exists": False,
    }


def test_the_same_overlay_in_another_file_names_its_own_file(kb, tmp_path, monkeypatch):
    """One cache, the same overlay text in two data dirs: each load names its own file (the
    store is per overlay file, not just per overlay text)."""
    text = tomli_w.dumps(
        {"causes": [local_cause(kb)], "settings": {"ctcae_default_version": "5.0"}}
    )
    for name in ("first", "second"):
        monkeypatch.setenv("LEUKO_DATA_DIR", str(tmp_path / name))
        path = write_overlay(text)
        for loaded in (kbmod.load(), kbmod.load()):  # writes the store, then reads it
            assert loaded._store is not None
            cause = loaded.get("causes", "local-test-neutropenia")
            assert cause["source_location"].startswith(f"{path}:")
            assert loaded.settings_origin["ctcae_default_version"].startswith(f"overlay {path}:")


def test_local_cause_appears_with_overlay_source(invoke, kb):
    write_overlay({"causes": [local_cause(kb)]})
    result = invoke("causes", "--json")
    assert result.exit_code == 0, result.stderr
    rows = {c["id"]: c for c in json.loads(result.stdout)}
    assert rows["local-test-neutropenia"]["source"] == "overlay"
    assert rows["local-test-neutropenia"]["last_reviewed"] == "2026-01-15"
    assert all(c["source"] == "bundled" for i, c in rows.items() if i != "local-test-neutropenia")
    assert len(rows) == len(kb.table("causes")) + 1

    table = invoke("causes", "--search", "local test neutropenia").stdout
    assert "Local test neutropenia *" in table
    assert "* from your personal overlay" in table
    detail = invoke("causes", "show", "local-test-neutropenia").stdout
    assert "from your overlay" in detail

    info = json.loads(invoke("kb", "info", "--json").stdout)
    assert info["overlay_status"] == "loaded"
    assert info["overlay_path"] == str(overlay_path())
    assert info["causes"] == len(kb.table("causes")) + 1
    assert invoke("kb", "info").exit_code == 0


def test_overlay_with_its_own_reference(invoke, kb):
    ref = {
        "id": "local-protocol-2026",
        "kind": "guideline",
        "authors": [],
        "title": "Ward neutropenia protocol",
        "journal": "Local hospital",
        "year": 2026,
        "verified": False,
        "verification": "Local document; no identifiers.",
    }
    write_overlay(
        {"causes": [local_cause(kb, references=["local-protocol-2026"])], "references": [ref]}
    )
    refs = json.loads(invoke("refs", "--cause", "local-test-neutropenia", "--json").stdout)
    assert [r["id"] for r in refs] == ["local-protocol-2026"]
    assert refs[0]["source"] == "overlay"
    assert refs[0]["number"] == len(kb.table("references")) + 1


def test_overlay_replaces_a_bundled_cause(invoke, kb):
    bundled = kbmod.export_data(kb.data)["causes"][0]
    replaced = {**copy.deepcopy(bundled), "name": "Locally edited name"}
    write_overlay({"causes": [replaced]})
    rows = json.loads(invoke("causes", "--json").stdout)
    assert len(rows) == len(kb.table("causes"))  # replaced, not added
    row = next(c for c in rows if c["id"] == bundled["id"])
    assert row["name"] == "Locally edited name" and row["source"] == "overlay"
    shown = json.loads(invoke("causes", "show", bundled["id"], "--json").stdout)
    assert shown["name"] == "Locally edited name"


def test_empty_overlay_is_fine(invoke, kb):
    write_overlay("# nothing yet\n")
    assert len(json.loads(invoke("causes", "--json").stdout)) == len(kb.table("causes"))
    assert invoke("kb", "check").stdout.startswith("OK: ")


# --- broken overlays -----------------------------------------------------------------------


def test_dangling_reference_names_id_file_and_line(invoke, kb):
    path = write_overlay({"causes": [local_cause(kb, references=["no-such-ref-2099"])]})
    text = path.read_text().splitlines()
    ref_line = next(n for n, ln in enumerate(text, 1) if ln.startswith("references"))
    for args in (("causes",), ("causes", "--json"), ("assess", "--anc", "450"), ("refs",)):
        line = one_line_error(invoke(*args), 3)
        assert f"{path}:{ref_line}:" in line
        assert "'no-such-ref-2099'" in line
        assert "leuko kb check" in line and "move" in line  # how to fix it
    assert path.read_text().splitlines() == text  # never touched


def test_broken_overlay_schema_and_toml(invoke, kb):
    write_overlay({"causes": [local_cause(kb, mechanism="magic", colour="red")]})
    line = one_line_error(invoke("causes"), 3)
    assert str(overlay_path()) in line and "more" in line
    check = invoke("kb", "check")
    assert check.exit_code == 1
    problems = check.stdout.strip().splitlines()
    assert len(problems) == 2
    assert all(p.startswith(f"{overlay_path()}:") for p in problems)
    assert any("'magic'" in p for p in problems) and any("'colour'" in p for p in problems)

    write_overlay("[[causes]]\nid = \n")
    line = one_line_error(invoke("causes", "--json"), 3)
    assert f"{overlay_path()}:2: not valid TOML" in line and "leuko kb check" in line


def test_an_overlay_saved_with_a_bom_says_so(invoke):
    """A BOM is invisible in an editor: 'Invalid statement (column 1)' named no fix."""
    overlay_path().parent.mkdir(parents=True, exist_ok=True)
    overlay_path().write_bytes(b"\xef\xbb\xbf[[causes]]\n")
    line = one_line_error(invoke("causes"), 3)
    assert f"{overlay_path()}:1:" in line and "byte-order mark" in line and "without" in line


def test_unreadable_overlay(invoke):
    overlay_path().mkdir(parents=True)  # a directory where the file should be
    line = one_line_error(invoke("causes"), 3)
    assert str(overlay_path()) in line and "move" in line


# --- kb check --------------------------------------------------------------------------------


def test_kb_check_default_is_bundled_without_overlay(invoke):
    result = invoke("kb", "check")
    assert result.exit_code == 0, result.stdout
    assert result.stdout == f"OK: {kbmod.bundled_path()} is valid\n"


def test_kb_check_default_is_overlay_when_present(invoke, kb):
    write_overlay({"causes": [local_cause(kb)]})
    assert invoke("kb", "check").stdout == f"OK: {overlay_path()} is valid\n"
    write_overlay({"causes": [local_cause(kb, category="nope")]})
    result = invoke("kb", "check", "--json")
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert out["ok"] is False and out["file"] == str(overlay_path())
    assert "unknown categories id 'nope'" in out["problems"][0]


def test_kb_check_explicit_file(invoke, kb, tmp_path):
    good = tmp_path / "good.toml"
    good.write_text(tomli_w.dumps({"causes": [local_cause(kb)]}))
    assert invoke("kb", "check", str(good)).exit_code == 0
    bad = tmp_path / "bad.toml"
    bad.write_text("[[causes]]\nid = 'x'\n")
    result = invoke("kb", "check", str(bad))
    assert result.exit_code == 1
    assert all(ln.startswith(f"{bad}:2: ") for ln in result.stdout.splitlines())
    assert "problems in" in result.stderr
    line = one_line_error(invoke("kb", "check", str(tmp_path / "missing.toml")), 2)
    assert "no such file" in line
    assert invoke("kb", "check", str(kbmod.bundled_path())).exit_code == 0


# --- kb export -------------------------------------------------------------------------------


def strip_source(data: dict) -> dict:
    out = copy.deepcopy(data)
    for table in kbmod.TABLES:
        for row in out.get(table, []):
            row.pop("source", None)
            row.pop("source_location", None)
    return out


def test_export_toml_round_trips(invoke, kb):
    result = invoke("kb", "export")
    assert result.exit_code == 0, result.stderr
    doc = tomllib.loads(result.stdout)
    assert "source" not in doc["causes"][0]
    assert isinstance(doc["meta"]["last_updated"], datetime.date)  # dates back as TOML dates
    assert all(None not in row.values() for t in kbmod.TABLES for row in doc.get(t, []))
    assert kbmod.validate(doc) == strip_source(kb.data)
    kbmod.check_references(kbmod.validate(doc))


def test_export_json_round_trips(invoke, kb):
    doc = json.loads(invoke("kb", "export", "--format", "json").stdout)
    assert kbmod.validate(doc) == strip_source(kb.data)


def test_export_includes_overlay_and_reimports_as_overlay(invoke, kb, tmp_path):
    write_overlay({"causes": [local_cause(kb)]})
    out = tmp_path / "kb.toml"
    result = invoke("kb", "export", "--output", str(out))
    assert result.exit_code == 0 and str(out) in result.stdout
    merged = kbmod.load(use_cache=False)
    assert kbmod.validate(tomllib.loads(out.read_text())) == strip_source(merged.data)
    assert invoke("kb", "check", str(out)).exit_code == 0
    # the export itself is a valid overlay: same content, every row now from the overlay
    out_bytes = out.read_bytes()
    write_overlay(out_bytes)
    again = kbmod.load(use_cache=False)
    assert strip_source(again.data) == strip_source(merged.data)
    assert {c["source"] for c in again.table("causes")} == {"overlay"}


def test_export_output_errors(invoke, tmp_path):
    line = one_line_error(invoke("kb", "export", "-o", str(tmp_path / "no" / "kb.toml")), 2)
    assert "does not exist" in line
    line = one_line_error(invoke("kb", "export", "-o", str(tmp_path)), 2)
    assert "directory" in line
    line = one_line_error(invoke("kb", "export", "-o", str(kbmod.bundled_path())), 2)
    assert "bundled" in line
    assert invoke("kb", "export", "--format", "yaml").exit_code == 2


# --- junk overlays ---------------------------------------------------------------------------

TOKENS = [
    "[[causes]]",
    "[[references]]",
    "[meta]",
    "[settings]",
    "id",
    "=",
    '"x"',
    "[",
    "]",
    "\n",
    " ",
    "1",
    "true",
    "2026-01-01",
    "references",
    "category",
    "{",
    "}",
    ",",
    "'",
]
junk = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.lists(st.sampled_from(TOKENS), max_size=60).map(lambda t: "".join(t).encode()),
)


# 20 junk files (x 2 commands): the schema and TOML errors it stands for are also pinned one by
# one (test_schema_junk_overlay_is_one_line, test_broken_overlay_schema_and_toml, and
# test_hostile.py's overlay texts)
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=junk)
def test_junk_overlay_never_tracebacks(invoke, data):
    write_overlay(data)
    for args in (("causes", "--json"), ("kb", "check")):
        result = invoke(*args)
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(
            result.exception
        )
        assert "Traceback" not in result.stdout + result.stderr
        if result.exit_code:
            assert result.exit_code in (1, 2, 3)
            assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert overlay_path().read_bytes() == data


@pytest.mark.parametrize(
    "text",
    [
        "causes = 5\n",
        "meta = 1\n",
        "[[causes]]\nid = 3\n",
        "[[scales]]\nid = 'x'\nbands = [1, 2]\n",
        "colour = 'red'\n",
        "[[causes]]\n[[causes]]\n",
        "[settings]\nfever_rule = 'x'\n",
    ],
)
def test_schema_junk_overlay_is_one_line(invoke, text):
    write_overlay(text)
    line = one_line_error(invoke("causes"), 3)
    assert str(overlay_path()) in line and "leuko kb check" in line


def test_entry_without_id_is_located_by_its_header(invoke, tmp_path):
    bad = tmp_path / "noid.toml"
    bad.write_text("# comment\n[[causes]]\nname = 'x'\n\n[[causes]]\nid = 7\n")
    result = invoke("kb", "check", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:5: causes[#2].id: expected a non-empty string" in result.stdout


def test_overlay_may_change_a_single_setting(isolated_dirs, invoke):
    import json

    overlay = isolated_dirs / "data" / "overlay.toml"
    overlay.parent.mkdir(parents=True, exist_ok=True)
    overlay.write_text('[settings]\nctcae_default_version = "5.0"\n')
    r = invoke("assess", "--anc", "800", "--json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["ctcae_version"] == "5.0"


# --- overlay honesty and provenance --------------------------------------------------------


def test_dangling_symlink_overlay_is_an_error_naming_it(invoke, tmp_path):
    path = overlay_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(tmp_path / "moved-away.toml")
    for args in (("causes", "--json"), ("assess", "--anc", "450", "--json")):
        line = one_line_error(invoke(*args), 3)
        assert str(path) in line and "symbolic link" in line and "move" in line


def test_directory_overlay_says_so(invoke):
    overlay_path().mkdir(parents=True)
    line = one_line_error(invoke("assess", "--anc", "450", "--json"), 3)
    assert "is a directory" in line and str(overlay_path()) in line


def test_unreadable_overlay_is_an_error_even_with_a_remembered_hash(invoke, kb, monkeypatch):
    import os
    import sys

    if os.geteuid() == 0:
        pytest.skip("root reads anything")
    monkeypatch.setattr(sys.modules["leuko_cli.kb.load"], "RACY_SECONDS", 0)
    path = write_overlay({"causes": [local_cause(kb)]})
    assert invoke("causes", "--json").exit_code == 0  # hash remembered, store built
    path.chmod(0)
    try:
        line = one_line_error(invoke("causes", "--json"), 3)
        assert str(path) in line and "permission" in line
    finally:
        path.chmod(0o600)


def test_absent_overlay_is_no_overlay(kb):
    loaded = kbmod.load()
    assert loaded.overlay_status == "absent"
    assert set(loaded.settings_origin.values()) == {"bundled"}


def test_overlay_entries_record_file_and_line(kb):
    path = write_overlay(
        {"causes": [local_cause(kb)], "settings": {"ctcae_default_version": "5.0"}}
    )
    lines = path.read_text().splitlines()
    id_line = lines.index('id = "local-test-neutropenia"') + 1
    setting_line = next(n for n, ln in enumerate(lines, 1) if ln.startswith("ctcae_default"))
    for loaded in (kbmod.load(use_cache=False), kbmod.load(), kbmod.load()):
        cause = loaded.get("causes", "local-test-neutropenia")
        assert cause["source"] == "overlay"
        assert cause["source_location"] == f"{path}:{id_line}"
        assert "source_location" not in loaded.get("causes", kb.table("causes")[0]["id"])
        assert loaded.settings_origin["ctcae_default_version"] == f"overlay {path}:{setting_line}"
        assert loaded.settings_origin["disclaimer"] == "bundled"


@pytest.mark.parametrize("use_cache", [False, True])
def test_overlay_lines_are_counted_at_lf_only(kb, use_cache):
    """TOML ends a line at LF only: a U+2028 or U+0085 in a comment or a string (which
    str.splitlines would also end a line at) moves no entry's FILE:LINE."""
    first = local_cause(kb, summary="One\u2028two\x85three.")
    second = local_cause(kb, id="local-test-neutropenia-2", name="Local test neutropenia 2")
    text = "# a note\u2028on two lines\n" + tomli_w.dumps(
        {"settings": {"ctcae_default_version": "5.0"}, "causes": [first, second]}
    )
    path = write_overlay(text)
    lines = text.split("\n")

    def line_of(start: str) -> int:
        return next(n for n, line in enumerate(lines, 1) if line.startswith(start))

    for loaded in (kbmod.load(use_cache=use_cache), kbmod.load(use_cache=use_cache)):
        for cause in (first, second):
            ident = cause["id"]
            where = loaded.get("causes", ident)["source_location"]
            assert where == f"{path}:{line_of('id = ' + json.dumps(ident))}"
        origin = loaded.settings_origin["ctcae_default_version"]
        assert origin == f"overlay {path}:{line_of('ctcae_default_version')}"


def test_export_output_dash_is_stdout(invoke, tmp_path, monkeypatch):
    """As `--input -` is stdin: `kb export -o -` wrote a file called '-'."""
    monkeypatch.chdir(tmp_path)
    r = invoke("kb", "export", "-o", "-")
    assert r.exit_code == 0 and r.stdout == invoke("kb", "export").stdout
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("kind", ["fifo", "empty"])
def test_export_output_that_is_not_a_file_is_refused_and_left_alone(invoke, tmp_path, kind):
    """`-o /dev/null` run as root must not replace the device with a regular file (the atomic
    rename would): a device, pipe or socket is refused, and so is an empty name."""
    import os
    import stat

    target = tmp_path / "pipe"
    if kind == "fifo":
        os.mkfifo(target)
    line = one_line_error(invoke("kb", "export", "-o", str(target) if kind == "fifo" else ""), 2)
    assert ("not a regular file" if kind == "fifo" else "--output is empty") in line
    if kind == "fifo":
        assert stat.S_ISFIFO(os.lstat(target).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_an_overlay_range_overlapping_a_bundled_age_band_is_refused(invoke, kb):
    """Two general ANC ranges for one age: only the first in the table is ever used, so an
    overlay range for ages the bundled ranges cover would be ignored while `kb check` said OK."""
    bundled = next(r for r in kb.table("reference_ranges") if r["id"] == "anc-over-one-year")
    local = {
        "id": "anc-local-children",
        "name": "ANC, local children 1-5 years",
        "measure": "anc",
        "population": "general",
        "age_min_days": 365,
        "age_max_days": 1826,
        "lower": 1200,
        "references": bundled["references"],
    }
    write_overlay({"reference_ranges": [local]})
    res = invoke("kb", "check")
    assert res.exit_code == 1, res.stdout
    assert "anc-local-children" in res.stdout + res.stderr
    assert "overlap" in res.stdout + res.stderr
    # another population, at ages its bundled range does not cover, is fine
    write_overlay({"reference_ranges": [dict(local, population="duffy-null")]})
    assert invoke("kb", "check").exit_code == 0


def _in_thousands(scale, _range):
    for band in scale["bands"]:
        for key in ("lower", "upper"):
            if isinstance(band.get(key), (int, float)):
                band[key] *= 1000


@pytest.mark.parametrize(
    "change,shown",
    [
        (
            lambda s, r: r.update(lower=1e300),
            "reference_ranges['anc-duffy-null-adult'].lower: 1e+300",
        ),
        (lambda s, r: r.update(lower=-5), "reference_ranges['anc-duffy-null-adult'].lower: -5"),
        (_in_thousands, ".bands[2].upper: 500000"),  # every band written x1000
        (lambda s, r: None, None),  # the numbers as they are: accepted
        (lambda s, r: r.update(lower=100000), None),  # the measure's own bound is allowed
    ],
)
def test_an_overlay_number_outside_its_measure_is_refused(invoke, kb, change, shown):
    """A scale band or reference limit is compared with a count, which input holds to 0 to
    max_cells_per_ul of its measure: a number past that (1e300, or 10^9/L x 10^6) is a typo."""

    def plain(entry):
        return {
            k: v
            for k, v in entry.items()
            if k not in ("source", "source_location") and v is not None
        }

    scale = plain(kb.get("scales", "ctcae-6.0-neutrophil-count-decreased"))
    scale["bands"] = [plain(b) for b in scale["bands"]]
    rng = plain(kb.get("reference_ranges", "anc-duffy-null-adult"))  # replaced by its id
    change(scale, rng)
    write_overlay({"scales": [scale], "reference_ranges": [rng]})
    res = invoke("kb", "check")
    out = res.stdout + res.stderr
    if shown is None:
        assert res.exit_code == 0, out
    else:
        assert res.exit_code == 1 and shown in out and "is outside 0-100000 cells/uL" in out, out
