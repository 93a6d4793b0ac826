"""Hostile and careless input through every command and every channel (issue 14).

Each case asserts what every answer must hold, whatever the input: no traceback, an exit code
from errors.EXIT_CODES (never 70, the internal-error code), no ESC byte, 8-bit CSI or OSC 8
hyperlink in stdout or stderr, and a refused write leaves the file as it was. Most cases run
in-process (CliRunner); the few that need a real file descriptor (closed stdin/stdout,
/dev/full, a pipe closed by `head`, a non-Unicode stdout, SIGINT) run as subprocesses.
"""

from __future__ import annotations

import datetime
import json
import multiprocessing
import os
import subprocess
import sys
import textwrap
import tomllib
from xml.etree import ElementTree

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leuko_cli import paths
from leuko_cli.errors import EXIT_CODES


@pytest.fixture(scope="module")
def _module_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def shared_cache(_module_cache, isolated_dirs, monkeypatch):
    """One KB cache for the module (per xdist worker): building the store for each of some
    hundreds of cases would cost more than the cases. Config and data dirs stay per test."""
    monkeypatch.setenv("LEUKO_CACHE_DIR", str(_module_cache))


# --- what every answer must hold -----------------------------------------------------------

ESC, CSI8, OSC8 = "\x1b", "\x9b", "\x1b]8"

PAYLOADS = {
    "csi": "\x1b[31mred\x1b[0m",
    "osc8": "\x1b]8;;http://evil.example/\x07click\x1b]8;;\x07",
    "c1": "\x9b31mc1",
    "close-tag": "zz [/zz]",
    "link": "[link=http://evil.example]y[/link]",
    "style": "[bold red]loud",
    "bidi": "abc\u202edcba",
    "nul-bel": "a\x00b\x07c",
}
# the flag and config-file tables use the five that differ in kind (CSI, OSC 8, 8-bit CSI,
# a closing tag that crashed Rich, a link); the file channels use all eight
SHORT = {k: PAYLOADS[k] for k in ("csi", "osc8", "c1", "close-tag", "link")}
# an argument whose bytes were not UTF-8 reaches Python as a lone surrogate (surrogateescape);
# a UTF-8 file (the config file) cannot hold one
ARGS = {**SHORT, "not-utf8": "\udc80b12\udcff"}


def assert_safe(result, codes=None) -> None:
    """The invariants: documented exit code, no traceback, nothing a terminal acts on."""
    out, err = result.stdout, result.stderr
    assert result.exit_code in EXIT_CODES and result.exit_code != 70, (result.exit_code, err)
    if codes is not None:
        assert result.exit_code in codes, (result.exit_code, out[-300:], err)
    for stream in (out, err):
        assert "Traceback" not in stream
        assert ESC not in stream and CSI8 not in stream and OSC8 not in stream
        assert "\u202e" not in stream
        assert not any(0xD800 <= ord(c) <= 0xDFFF for c in stream)  # unwritable: shown escaped
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)


# --- escapes and markup through the flags of every command ---------------------------------

FLAG_COMMANDS = [
    ["assess", "--anc", "{p}"],
    ["assess", "--anc", "500", "--drug", "{p}"],
    ["assess", "--anc", "500", "--age", "{p}"],
    ["assess", "--anc", "500", "--unit", "{p}"],
    ["assess", "--anc", "500", "--temp", "{p}"],
    ["assess", "--anc", "500", "--ctcae-version", "{p}"],
    ["causes", "--search", "{p}"],
    ["causes", "--category", "{p}"],
    ["causes", "--lineage", "{p}"],
    ["causes", "show", "{p}"],
    ["causes", "show", "{p}", "--json"],
    ["refs", "--cause", "{p}"],
    ["refs", "--format", "{p}"],
    ["search", "{p}"],
    ["search", "{p}", "--json"],
    ["search", "fever", "--limit", "{p}"],
    ["schema", "{p}"],
    ["kb", "check", "{p}"],
    ["kb", "export", "--format", "{p}"],
    ["config", "get", "{p}"],
    ["config", "set", "{p}", "x"],
    ["config", "set", "unit", "{p}"],
    ["config", "set", "audience", "{p}"],
    ["config", "unset", "{p}"],
    ["manage", "--audience", "{p}"],
    ["{p}"],
]


@pytest.mark.parametrize("payload", list(ARGS.values()), ids=list(ARGS))
@pytest.mark.parametrize("argv", FLAG_COMMANDS, ids=lambda a: " ".join(a))
def test_flags_are_inert(invoke, argv, payload):
    result = invoke(*[a.format(p=payload) for a in argv])
    # `leuko search` with no match exits 1 (issue 19): not a failure of the input handling
    assert_safe(result, codes={0, 1, 2} if argv[0] == "search" else {0, 2})
    assert not paths.config_path().exists()  # every refused `config set` wrote nothing


PLAIN_COMMANDS = [
    ["classify"],
    ["workup"],
    ["manage"],
    ["manage", "--audience", "patient"],
    ["scales"],
    ["mascc", "--burden-mild", "--outpatient"],
    ["kb", "info"],
    ["kb", "check"],
    ["kb", "export"],
    ["kb", "export", "--format", "json"],
    ["config", "show"],
    ["config", "get", "unit", "--show-origin"],
    ["schema", "output"],
    ["refs"],
    ["causes"],
]


# --- a personal overlay whose text is hostile ----------------------------------------------


def hostile_overlay(kb) -> None:
    cause = {
        "id": "hostile-cause",
        "name": "Hostile " + PAYLOADS["csi"] + PAYLOADS["link"],
        "category": kb.table("categories")[0]["id"],
        "synonyms": ["hostile-syn", PAYLOADS["osc8"]],
        "lineages": ["neutrophils"],
        "summary": "Summary " + PAYLOADS["close-tag"] + PAYLOADS["c1"],
        "patient_summary": "Patient " + PAYLOADS["style"] + PAYLOADS["bidi"],
        "mechanism": "mixed",
        "mechanism_detail": PAYLOADS["osc8"],
        "course": "transient",
        "origin": "extrinsic",
        "features": [PAYLOADS["csi"]],
        "workup": [PAYLOADS["link"]],
        "management": [PAYLOADS["close-tag"]],
        "references": [kb.table("references")[0]["id"]],
        "last_reviewed": datetime.date(2026, 1, 15),
        "review_status": "draft",
    }
    path = paths.overlay_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps({"causes": [cause]}), encoding="utf-8")


@pytest.mark.parametrize(
    "argv",
    PLAIN_COMMANDS
    + [
        ["causes", "--search", "hostile"],
        ["causes", "show", "hostile-cause"],
        ["causes", "show", "hostile-cause", "--audience", "patient"],
        ["causes", "show", "hostile-cause", "--json"],
        ["search", "hostile"],
        ["search", "hostile", "--json"],
        ["refs", "--cause", "hostile-cause"],
        ["assess", "--anc", "400"],
    ],
    ids=lambda a: " ".join(a),
)
def test_overlay_text_is_inert(invoke, kb, argv):
    hostile_overlay(kb)
    result = invoke(*argv)
    assert_safe(result, codes={0, 1, 3})


def test_overlay_text_reaches_the_screen_escaped(invoke, kb):
    hostile_overlay(kb)
    result = invoke("causes", "show", "hostile-cause")
    assert_safe(result, codes={0, 3})
    if result.exit_code == 0:  # accepted by the schema: shown, with escapes visible
        assert "\\x1b[31mred" in result.stdout
        assert "[link=http://evil.example]y[/link]" in result.stdout  # literal, not a link


# --- the config file as a channel ------------------------------------------------------------


@pytest.mark.parametrize("payload", list(SHORT.values()), ids=list(SHORT))
@pytest.mark.parametrize(
    "argv",
    [["config", "show"], ["config", "get", "unit"], ["assess", "--anc", "400"], ["causes"]],
    ids=lambda a: " ".join(a),
)
def test_config_file_values_are_inert(invoke, argv, payload):
    path = paths.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps({"unit": payload, payload: "x"}), encoding="utf-8")
    assert_safe(invoke(*argv), codes={0, 2, 3})


@pytest.mark.parametrize(
    "content",
    [b"unit = 5\n", b"[unit]\n", b"\xff\xfe\x00", b"unit = '''\n", b"x" * (1 << 20 + 1)],
    ids=["wrong type", "table", "not UTF-8", "unclosed", "too large"],
)
@pytest.mark.parametrize(
    "argv", [["config", "set", "unit", "10^9/L"], ["config", "unset", "unit"]], ids=" ".join
)
def test_refused_config_write_leaves_the_file_unchanged(invoke, content, argv):
    path = paths.config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    result = invoke(*argv)
    assert_safe(result, codes={3})
    assert path.read_bytes() == content
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]  # no temp file left


# --- CSV and JSON Lines: escapes, types, sizes, encodings ------------------------------------


def write(tmp_path, name: str, data: bytes | str):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return str(path)


@pytest.mark.parametrize("payload", list(PAYLOADS.values()), ids=list(PAYLOADS))
@pytest.mark.parametrize("fmt", [[], ["--json"], ["--format", "table"], ["--format", "jsonl"]])
def test_csv_and_jsonl_cells_are_inert(invoke, tmp_path, payload, fmt):
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "anc", payload])
    w.writerow([payload, "500", payload])
    w.writerow(["b", payload, "x"])
    csv_file = write(tmp_path, "in.csv", buf.getvalue())
    jsonl = json.dumps({"id": payload, "anc": 500, payload: [payload]}) + "\n"
    jsonl += json.dumps({"id": "b", "anc": payload}) + "\n"
    for path in (csv_file, write(tmp_path, "in.jsonl", jsonl)):
        result = invoke("assess", "--input", path, *fmt)
        # 2: a header holding `;` may be read as semicolon-separated, with no count column
        assert_safe(result, codes={1, 2})
        if result.exit_code == 1 and ("--json" in fmt or "jsonl" in fmt):
            rows = [json.loads(line) for line in result.stdout.splitlines()]
            assert rows[0]["id"] == payload  # JSON keeps the data exactly, escaped


@pytest.mark.parametrize("fmt", [[], ["--json"], ["--format", "table"], ["--format", "jsonl"]])
def test_lone_surrogate_escapes_in_json_lines_are_shown_not_written_raw(invoke, tmp_path, fmt):
    """A JSON "\\ud800" escape is a string no encoding can write: it is shown as the escape in
    CSV and tables, kept as one in JSON (the parsed data is unchanged), never an internal
    error or a raw byte."""
    rows = [
        '{"id": "\\ud800", "anc": 450}',
        '{"id": "b\\udc80", "anc": "\\udfff", "\\ud83d": 1}',
        '{"id": "c", "anc": 450, "note": "\\ud800\\ud800"}',
    ]
    result = invoke("assess", "--input", write(tmp_path, "s.jsonl", "\n".join(rows) + "\n"), *fmt)
    assert_safe(result, codes={1})
    assert not any(0xD800 <= ord(c) <= 0xDFFF for c in result.stdout + result.stderr)
    if "--json" in fmt or "jsonl" in fmt:
        got = [json.loads(line) for line in result.stdout.splitlines()]
        assert [r["id"] for r in got] == ["\ud800", "b\udc80", "c"]
    else:
        assert "\\ud800" in result.stdout


@pytest.mark.parametrize(
    "subject",
    ["\\ud800", "\\udfff\\udc80", "a\\u001b[31m\\u009b1m\\u0085"],
    ids=["d800", "pair", "esc"],
)
@pytest.mark.parametrize(
    "fmt",
    [[], ["--json"], ["--format", "csv"], ["--svg", "SVG"]],
    ids=["table", "json", "csv", "svg"],
)
def test_trend_subject_from_outside_through_every_output(invoke, tmp_path, subject, fmt):
    """A subject id is text from outside: `leuko trend` shows it escaped in its table, CSV and
    chart (a lone surrogate was an internal error in CSV and SVG; ESC went out raw)."""
    rows = "".join(
        f'{{"subject": "{subject}", "date": "2024-01-0{d}", "anc": {a}}}\n'
        for d, a in ((1, 900), (2, 450))
    )
    svg = tmp_path / "chart.svg"
    argv = [str(svg) if a == "SVG" else a for a in fmt]
    result = invoke("trend", write(tmp_path, "s.jsonl", rows), *argv)
    assert_safe(result, codes={0})
    assert "\x85" not in result.stdout
    if "--json" in fmt:
        assert json.loads(result.stdout)["subjects"][0]["subject"] == json.loads(f'"{subject}"')
    if svg.exists():
        text = svg.read_text(encoding="utf-8")
        assert not any(ord(c) < 0x20 and c not in "\t\n\r" or 0x7F <= ord(c) <= 0x9F for c in text)
        ElementTree.fromstring(text)  # well-formed XML: no control character in it


LB_CSV = "USUBJID,PARAMCD,AVAL,AVALU\np\x1b[31m1,NEUT,0.4,10^9/L\np\x9b,NE\x1bUT,0.4,1\x1b0^9/L\n"
LB_JSON = json.dumps(
    {
        "datasetJSONVersion": "1.1",
        "columns": [
            {"itemOID": f"IT.{c}", "name": c, "dataType": t}
            for c, t in (("USUBJID", "string"), ("PARAMCD", "string"), ("AVAL", "float"))
        ],
        "rows": [["\ud800", "NEUT", 0.4], ["p\x1b", "N\udc80", 0.4]],
    }
)


@pytest.mark.parametrize(
    "name, data", [("lb.csv", LB_CSV), ("lb.json", LB_JSON)], ids=["csv", "dj"]
)
@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "dataset-json"])
def test_batch_long_layout_cells_are_inert(invoke, tmp_path, name, data, fmt):
    """`leuko batch` copies the dataset's cells: an ESC, a C1 control or a lone surrogate (a JSON
    "\\ud800") is shown escaped in CSV/TSV, JSON-escaped in JSON, and in the stderr summary that
    names an ungradable parameter; a surrogate was an internal error in CSV."""
    result = invoke("batch", write(tmp_path, name, data), "--format", fmt)
    assert_safe(result, codes={0})
    assert "\x9b" not in result.stdout + result.stderr
    if fmt == "jsonl":
        got = [json.loads(line) for line in result.stdout.splitlines()]
        assert got[0]["USUBJID"] == ("\ud800" if name == "lb.json" else "p\x1b[31m1")


JSONL_ROWS = {
    "list": '{"anc": [1, 2]}',
    "object": '{"anc": {"a": 1}}',
    "bool": '{"anc": true}',
    "NaN": '{"anc": NaN}',
    "Infinity": '{"anc": -Infinity}',
    "overflow": '{"anc": 1e999}',
    "huge int": '{"anc": ' + "9" * 5000 + "}",
    "deep": '{"anc": ' + "[" * 50_000 + "]" * 50_000 + "}",
    "not an object": "[1, 2, 3]",
    "string": '"anc"',
    "duplicate key": '{"anc": 1, "anc": 2}',
    "two columns": '{"anc": 1, "ANC": 2}',
    "invalid": '{"anc": ',
    "null": '{"anc": null}',
}


@pytest.mark.parametrize("line", list(JSONL_ROWS.values()), ids=list(JSONL_ROWS))
def test_jsonl_wrong_types_become_error_rows(invoke, tmp_path, line):
    path = write(tmp_path, "in.jsonl", '{"id": "a", "anc": 500}\n' + line + "\n")
    result = invoke("assess", "--input", path, "--json")
    assert_safe(result, codes={1})
    rows = [json.loads(x) for x in result.stdout.splitlines()]  # valid JSON: no NaN/Infinity
    assert len(rows) == 2 and rows[0]["error"] is None and rows[1]["error"]
    assert len(rows[1]["error"]) < 400


CSV_FILES = {
    "short row": b"id,anc\na,500\nb\n",
    "long row": b"id,anc\na,500,7,8\n",
    "huge int": b"id,anc\na," + b"9" * 5000 + b"\n",
    "BOM": b"\xef\xbb\xbfid,anc\na,500\n",
    "CRLF": b"id,anc\r\na,500\r\n",
    "CR only": b"id,anc\ra,500\rb,600\r",
    "quoted newline": b'id,anc\n"a\nb",500\n',
    "NUL": b"id,anc\na\x00,500\n",
    "no count column": b"id,x\na,1\n",
    "empty": b"",
    "blank lines": b"\n\n\n",
    "header only": b"id,anc\n",
    "two anc columns": b"id,anc,ANC\na,1,2\n",
    "semicolons": b"id;anc\na;500\n",
}


@pytest.mark.parametrize("data", list(CSV_FILES.values()), ids=list(CSV_FILES))
@pytest.mark.parametrize("fmt", [[], ["--json"], ["--format", "table"]], ids=["csv", "json", "t"])
def test_odd_csv_files_never_traceback(invoke, tmp_path, data, fmt):
    result = invoke("assess", "--input", write(tmp_path, "in.csv", data), *fmt)
    assert_safe(result, codes={0, 1, 2})


@pytest.mark.parametrize(
    "argv, text",
    [
        (["assess", "--input", "{p}"], "id\tanc\r\na\t500\r\n"),
        (["trend", "{p}"], "date,anc\r\n2024-01-01,500\r\n"),
        (["batch", "{p}"], "USUBJID,PARAMCD,AVAL,AVALU\r\n1,NEUT,0.4,10^9/L\r\n"),
        (["assess", "--fhir", "{p}"], '{"resourceType": "Bundle"}'),
        (["meds", "--file", "{p}"], "clozapine\r\n"),
        (["kb", "check", "{p}"], "[meta]\n"),
    ],
)
@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be"])
def test_utf16_files_are_named_with_the_fix(invoke, tmp_path, argv, text, codec):
    """Excel's "Unicode Text" is UTF-16: the message said 'fix or remove that line'."""
    path = tmp_path / "export.txt"
    bom = b"\xfe\xff" if codec == "utf-16-be" else b""
    path.write_bytes(bom + text.encode(codec))
    r = invoke(*[a.replace("{p}", str(path)) for a in argv])
    assert r.exit_code in (1, 2, 3) and "Traceback" not in r.stderr
    said = r.stderr + r.stdout
    assert "UTF-16" in said and "save it as UTF-8" in said, said


def test_lone_cr_line_ends_are_read_as_lines(invoke, tmp_path):
    result = invoke("assess", "--input", write(tmp_path, "in.csv", CSV_FILES["CR only"]))
    assert_safe(result, codes={0})
    assert result.stdout.splitlines()[1:] == [
        "a,500,500,moderate,6.0,2,,,true,,,,,",
        "b,600,600,moderate,6.0,2,,,true,,,,,",
    ]


@pytest.mark.parametrize(
    "data, line, written, what",
    [
        (b"id,anc\na,500\nb,\xff\xfe\nc,600\n", 3, 1, "not UTF-8"),
        (b"id,anc\na,500\nb,600\nc,7\xc3\n", 4, 2, "not UTF-8"),
        (b"\xfe\xffid,anc\n", 1, 0, "UTF-16 text"),  # a UTF-16 BOM is named, with the fix
        ("id,anc\na,500\n".encode("utf-16"), 1, 0, "UTF-16 text"),
    ],
    ids=["middle", "last line", "header", "UTF-16"],
)
@pytest.mark.parametrize("fmt", [[], ["--json"], ["--format", "table"]], ids=["csv", "json", "t"])
def test_bad_utf8_mid_stream_names_the_line_and_keeps_whole_rows(
    invoke, tmp_path, data, line, written, what, fmt
):
    result = invoke("assess", "--input", write(tmp_path, "in.csv", data), *fmt)
    assert_safe(result, codes={2})
    message = result.stderr.strip()
    assert f"line {line}: {what}" in message
    assert f"{written} row(s) were written" in message
    if not fmt:  # what was written is whole CSV rows: header + `written` rows
        assert len(result.stdout.splitlines()) == (written + 1 if line > 1 else 0)
    if fmt == ["--json"]:
        assert len([json.loads(x) for x in result.stdout.splitlines()]) == written


@pytest.mark.parametrize(
    "env, data, expect",
    [
        (
            {"LEUKO_MAX_LINE_BYTES": "100"},
            b"id,anc\n" + b"x" * 200 + b",5\n",
            "line 2: line longer",
        ),
        ({"LEUKO_MAX_LINE_BYTES": "100"}, b'id,anc\n"' + b"x\n" * 80 + b'",5\n', "field larger"),
        ({"LEUKO_MAX_LINE_BYTES": "100"}, b'{"anc": "' + b"1" * 200 + b'"}\n', "line 1: line"),
        ({"LEUKO_MAX_LINE_BYTES": "x"}, b"id,anc\na,1\n", "LEUKO_MAX_LINE_BYTES='x'"),
        ({"LEUKO_MAX_LINE_BYTES": "-5"}, b"id,anc\na,1\n", "positive whole number"),
    ],
    ids=["line", "quoted field", "jsonl line", "bad limit", "negative limit"],
)
def test_size_limits_are_one_line_and_overridable(invoke, tmp_path, monkeypatch, env, data, expect):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    path = write(tmp_path, "in.jsonl" if data.startswith(b"{") else "in.csv", data)
    result = invoke("assess", "--input", path)
    assert_safe(result, codes={2})
    assert expect in result.stderr
    monkeypatch.setenv("LEUKO_MAX_LINE_BYTES", "100000")  # raised: the same file is read
    if "limit" not in expect and "positive" not in expect:
        assert_safe(invoke("assess", "--input", path), codes={0, 1})


# --- --on-error ------------------------------------------------------------------------------

ON_ERROR_FILE = b"id,anc\na,500\nb,n/a\nc,600\nd,\n"


@pytest.mark.parametrize(
    "policy, code, ids, stderr",
    [
        (None, 1, ["a", "b", "c", "d"], ["4 row(s), 2 graded, 2 error(s)"]),
        ("row", 1, ["a", "b", "c", "d"], ["4 row(s), 2 graded, 2 error(s)"]),
        ("skip", 1, ["a", "c"], ["line 3: skipped:", "line 5: skipped:", "2 skipped"]),
        ("fail", 1, ["a"], ["line 3: --anc expects a number", "1 row(s) were written"]),
    ],
)
@pytest.mark.parametrize("fmt", [[], ["--json"]], ids=["csv", "json"])
def test_on_error_policies(invoke, tmp_path, policy, code, ids, stderr, fmt):
    path = write(tmp_path, "in.csv", ON_ERROR_FILE)
    extra = ["--on-error", policy] if policy else []
    result = invoke("assess", "--input", path, *extra, *fmt)
    assert_safe(result, codes={code})
    if fmt:
        got = [json.loads(x)["id"] for x in result.stdout.splitlines()]
    else:
        got = [x.split(",")[0] for x in result.stdout.splitlines()[1:]]
    assert got == ids
    for text in stderr:
        assert text in result.stderr


@pytest.mark.parametrize(
    "argv",
    [["--on-error", "never"], ["--on-error", "skip", "--fhir", "x.json"]],
    ids=["unknown", "with fhir"],
)
def test_on_error_refusals(invoke, tmp_path, argv):
    path = write(tmp_path, "in.csv", ON_ERROR_FILE)
    args = ["assess", *argv] if "--fhir" in argv else ["assess", "--input", path, *argv]
    result = invoke(*args)
    assert_safe(result, codes={2})
    assert "--on-error" in result.stderr


# --- FHIR: wrong JSON types everywhere --------------------------------------------------------


def observation(**changes) -> dict:
    obs = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "751-8"}]},
        "subject": {"reference": "Patient/1"},
        "effectiveDateTime": "2026-01-01T08:00:00Z",
        "valueQuantity": {"value": 0.4, "unit": "10*3/uL", "code": "10*3/uL"},
    }
    obs.update(changes)
    return obs


FHIR_DOCS = {
    "list": [],
    "string": "Observation",
    "number": 5,
    "null": None,
    "resourceType number": {"resourceType": 5},
    "bundle entry object": {"resourceType": "Bundle", "entry": {"a": 1}},
    "bundle entry strings": {"resourceType": "Bundle", "entry": ["x", 1, None]},
    "bundle resource list": {"resourceType": "Bundle", "entry": [{"resource": []}]},
    "code string": observation(code="751-8"),
    "coding object": observation(code={"coding": {"code": "751-8"}}),
    "coding code number": observation(code={"coding": [{"code": 7518}]}),
    "value string": observation(valueQuantity={"value": "0.4", "unit": "10*3/uL"}),
    "value bool": observation(valueQuantity={"value": True, "unit": "10*3/uL"}),
    "value huge int": observation(valueQuantity={"value": 10**300, "unit": "10*3/uL"}),
    "value list": observation(valueQuantity=[0.4]),
    "unit number": observation(valueQuantity={"value": 0.4, "unit": 5, "code": 7}),
    "comparator": observation(valueQuantity={"value": 0.4, "unit": "/uL", "comparator": "<"}),
    "subject list": observation(subject=[PAYLOADS["csi"]]),
    "subject hostile": observation(subject={"reference": PAYLOADS["osc8"]}),
    "effective number": observation(effectiveDateTime=20260101),
    "effective hostile": observation(effectiveDateTime=PAYLOADS["link"] + PAYLOADS["c1"]),
    "id hostile": observation(id=PAYLOADS["csi"] + PAYLOADS["close-tag"]),
    "id object": observation(id={"a": 1}),
    "status list": observation(status=["final"]),
    "period string": observation(effectiveDateTime=None, effectivePeriod="2026"),
    # issue 16 shapes: reports, references, ranges, temperatures, NDJSON-like nesting
    "report contained object": {"resourceType": "DiagnosticReport", "contained": {"a": 1}},
    "report result string": {"resourceType": "DiagnosticReport", "result": "Observation/o1"},
    "report result junk": {
        "resourceType": "DiagnosticReport",
        "contained": [observation(id="x"), 5, None, {"resourceType": "Observation", "id": 7}],
        "result": [{"reference": 5}, "x", None, {"reference": "#"}, {"reference": "#x"}],
    },
    "report hostile reference": {
        "resourceType": "DiagnosticReport",
        "subject": {"reference": PAYLOADS["csi"]},
        "result": [{"reference": PAYLOADS["osc8"]}],
    },
    "range object": observation(referenceRange={"low": 1}),
    "range low junk": observation(
        referenceRange=[{"low": {"value": "1", "code": 5}}, {"low": [1]}, {"type": "normal"}]
    ),
    "range low huge": observation(referenceRange=[{"low": {"value": 10**300, "code": "/uL"}}]),
    "range low hostile unit": observation(
        referenceRange=[{"low": {"value": 1, "code": PAYLOADS["csi"]}}]
    ),
    "temperature string": observation(
        code={"coding": [{"code": "8310-5"}]}, valueQuantity={"value": "38", "code": "Cel"}
    ),
    "temperature huge": observation(
        code={"coding": [{"code": "8310-5"}]}, valueQuantity={"value": 1e300, "code": "Cel"}
    ),
    "skipped hostile name": {
        "resourceType": "Bundle",
        "entry": [
            {"resource": observation()},
            {"resource": observation(code={"text": PAYLOADS["osc8"], "coding": [{"code": "1-1"}]})},
        ],
    },
    "nested bundles": {
        "resourceType": "Bundle",
        "entry": [
            {
                "fullUrl": 5,
                "resource": {
                    "resourceType": "Bundle",
                    "entry": [
                        {
                            "resource": {
                                "resourceType": "Bundle",
                                "entry": [
                                    {
                                        "resource": {
                                            "resourceType": "Bundle",
                                            "entry": [
                                                {
                                                    "resource": {
                                                        "resourceType": "Bundle",
                                                        "entry": [{"resource": observation()}],
                                                    }
                                                }
                                            ],
                                        }
                                    }
                                ],
                            }
                        }
                    ],
                },
            }
        ],
    },  # fmt: skip
}


@pytest.mark.parametrize("doc", list(FHIR_DOCS.values()), ids=list(FHIR_DOCS))
@pytest.mark.parametrize("as_json", [False, True], ids=["human", "json"])
def test_fhir_wrong_types_are_one_line(invoke, tmp_path, doc, as_json):
    path = write(tmp_path, "obs.json", json.dumps(doc))
    result = invoke("assess", "--fhir", path, *(["--json"] if as_json else []))
    assert_safe(result, codes={0, 2})
    if result.exit_code:
        assert len(result.stderr.strip().splitlines()) == 1


PATIENT = b'{"resourceType": "Patient", "id": "p1"}\n'  # an NDJSON line that is a resource


@pytest.mark.parametrize(
    "data, env, expect",
    [
        (b'{"a": "caf\xe9"}', {}, "not UTF-8"),
        ("{}".encode("utf-16"), {}, "UTF-16 text"),  # its BOM: named, with the fix
        (b"[" * 100_000 + b"]" * 100_000, {}, "nested too deeply"),
        (b'{"a": ' + b"9" * 5000 + b"}", {}, "too many digits"),
        (b'{"a": NaN}', {}, "NaN"),
        (b"{" * 10, {}, "not valid JSON"),
        (json.dumps(observation()).encode(), {"LEUKO_MAX_FHIR_BYTES": "100"}, "larger than 100"),
        (b"{}", {"LEUKO_MAX_FHIR_BYTES": "lots"}, "LEUKO_MAX_FHIR_BYTES"),
        (PATIENT + b"[" * 100_000 + b"]" * 100_000, {}, "line 2: JSON nested too deeply"),
        (PATIENT + b'{"a": ' + b"9" * 5000 + b"}", {}, "line 2: not valid JSON"),
        (PATIENT * 2 + b'{"a": NaN}', {}, "line 3: not valid JSON"),
        (PATIENT + b'{"date": "2024-03-05", "anc": 450}', {}, "line 2: a JSON object without"),
    ],
    ids=[
        "latin",
        "utf16",
        "deep",
        "digits",
        "NaN",
        "broken",
        "size",
        "bad limit",
        "ndjson deep",
        "ndjson digits",
        "ndjson NaN",
        "ndjson row",
    ],
)
def test_fhir_file_faults(invoke, tmp_path, monkeypatch, data, env, expect):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = invoke("assess", "--fhir", write(tmp_path, "obs.json", data))
    assert_safe(result, codes={2})
    assert expect in result.stderr and len(result.stderr.strip().splitlines()) == 1


# --- file names from outside: shown escaped wherever they are named ---------------------------


@pytest.mark.parametrize(
    "name", ["k\x1b[31m\x9b.toml", "k\udc80\udcff.toml"], ids=["csi", "not-utf8"]
)
@pytest.mark.parametrize("data", ["ok = \n", "[[causes]]\nid = 1\n"], ids=["toml", "schema"])
def test_kb_check_names_a_hostile_file_name_escaped(invoke, tmp_path, name, data):
    """`kb check FILE` on a file with problems names it on stderr: the name is shown inert."""
    path = tmp_path / name
    path.write_text(data)
    result = invoke("kb", "check", str(path))
    assert_safe(result, codes={1, 2})
    assert result.exit_code == 1 and "problem" in result.stderr


# --- unreadable files and overlays -------------------------------------------------------------


@pytest.mark.parametrize("target", ["missing", "directory", "dangling", "fifo"])
def test_unreadable_inputs_and_overlays(invoke, tmp_path, target):
    path = tmp_path / "thing"
    if target == "directory":
        path.mkdir()
    elif target == "dangling":
        path.symlink_to(tmp_path / "nowhere")
    elif target == "fifo":
        os.mkfifo(path)
    if target != "fifo":  # opening a FIFO for reading would wait for a writer
        for argv in (["assess", "--input", str(path)], ["assess", "--fhir", str(path)]):
            assert_safe(invoke(*argv), codes={2})
    assert_safe(invoke("kb", "check", str(path)), codes={2})
    overlay = paths.overlay_path()
    overlay.parent.mkdir(parents=True, exist_ok=True)
    if target != "missing":
        os.replace(path, overlay)
    result = invoke("causes")
    if target == "missing":
        assert_safe(result, codes={0})  # no overlay is no overlay
    else:
        assert_safe(result, codes={3})
        assert str(overlay) in result.stderr


# --- hypothesis: the readers take any bytes and fail only in their documented ways ---------


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=64))
def test_line_source_reads_any_bytes(data, limit):
    import io

    from leuko_cli.batch.readers import LineSource, StreamError

    source = LineSource(io.BytesIO(data), limit)
    try:
        lines = list(source)
    except StreamError as err:
        assert 1 <= err.line and err.reason
        return
    assert "".join(lines).encode("utf-8") == data.removeprefix(b"\xef\xbb\xbf")
    # the limit bounds a line's text; its line end may come on top (b"\x00\n" at limit 1)
    assert all(len(x.removesuffix("\n").encode()) <= limit for x in lines)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.text(max_size=60), max_size=8))
def test_csv_and_jsonl_readers_take_any_text(lines):
    import csv

    from leuko_cli.batch.readers import CsvRows, RowError, jsonl_rows, peek
    from leuko_cli.errors import InputError

    text = [line + "\n" for line in lines]
    for _n, fields, _row in jsonl_rows(iter(text)):
        assert isinstance(fields, (dict, RowError))
    first, it = peek(iter(text))
    try:
        for _n, fields, _row in CsvRows(it, first):
            assert isinstance(fields, (dict, RowError))
    except (InputError, csv.Error):
        pass


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "resourceType",
                    "entry",
                    "resource",
                    "code",
                    "coding",
                    "system",
                    "value",
                    "valueQuantity",
                    "unit",
                    "subject",
                    "reference",
                    "id",
                    "status",
                    "comparator",
                    "effectiveDateTime",
                    "effectivePeriod",
                    "start",
                    "contained",
                    "result",
                    "referenceRange",
                    "low",
                    "type",
                    "fullUrl",
                    "text",
                    "dataAbsentReason",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(JSON_VALUES, st.sampled_from(["Observation", "Bundle", "DiagnosticReport"]))
def test_fhir_reader_takes_any_json(kb, doc, kind):
    from leuko_cli.batch import fhir
    from leuko_cli.batch.fhir_resources import Resources
    from leuko_cli.errors import InputError

    if isinstance(doc, dict) and doc.get("resourceType") is None:
        doc["resourceType"] = kind
    for shape in (doc, Resources([doc, doc]) if isinstance(doc, dict) else doc):
        try:  # as one document, and as NDJSON lines
            fhir.groups(kb, shape)
        except InputError:
            pass


# --- real file descriptors: a few subprocesses -------------------------------------------------


def run_leuko(args: list[str], env_extra: dict | None = None, **kw) -> subprocess.CompletedProcess:
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run(
        [sys.executable, "-m", "leuko_cli", *args], env=env, capture_output=True, **kw
    )


def shell(script: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """One shell runs many leuko commands (fewer interpreters to wait for)."""
    env = dict(os.environ, LEUKO=f"{sys.executable} -m leuko_cli", **(env_extra or {}))
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True)


# (fault, command): the fast path and Typer, human and JSON, Rich and plain, batch and export.
# Kept few: each is an interpreter start. The in-process cases cover the commands' text.
STREAM_CASES = [
    ("full", "assess --anc 450"),  # the fast path
    ("full", "refs --json"),  # Typer, JSON
    ("full", "manage"),  # Typer, Rich
    ("full", "kb export"),
    ("full", "assess --input $CSV"),
    ("closed", "causes show clozapine --json"),
    ("closed", "config show"),
    ("closed", "assess --input $CSV --format table"),
    ("head", "assess --anc 450"),
    ("head", "manage"),
    ("head", "refs --json"),
    ("head", "assess --input $CSV"),
    ("head", "assess --input $CSV --format table"),
]
REDIRECT = {"full": ">/dev/full", "closed": ">&-", "head": "| head -1 >/dev/null"}


def test_full_disk_closed_stdout_and_head(tmp_path):
    """>/dev/full and >&- end in exit 4 with one line; `| head -1` in 0, quietly."""
    csv_path = write(tmp_path, "in.csv", "id,anc\n" + "".join(f"p{i},{i}\n" for i in range(3000)))
    lines = [
        f'$LEUKO {cmd} 2>"$T/e" {REDIRECT[fault]}; '
        f'echo "{fault} {cmd}|${{PIPESTATUS[0]}}|$(cat "$T/e")"'
        for fault, cmd in STREAM_CASES
    ]
    done = shell("\n".join(lines), {"CSV": csv_path, "T": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    results = [line.split("|", 2) for line in done.stdout.splitlines()]
    assert len(results) == len(STREAM_CASES)
    for what, code, err in results:
        assert "Traceback" not in err and ESC not in err
        if what.startswith("head"):
            assert (code, err) == ("0", ""), what
        else:
            assert code == "4", (what, err)
            assert err.startswith("leuko: error: cannot write the output"), (what, err)
            assert len(err.splitlines()) == 1


def test_closed_stdin_and_endless_input(tmp_path):
    done = shell(
        '$LEUKO assess --input - <&- 2>&1; echo "rc=$?"\n'
        '$LEUKO assess --fhir - <&- 2>&1; echo "rc=$?"\n'
        '$LEUKO assess --input /dev/zero 2>&1; echo "rc=$?"\n'
        '$LEUKO assess --fhir - </dev/zero 2>&1; echo "rc=$?"\n',
        {"LEUKO_MAX_FHIR_BYTES": "1000000"},
    )
    out = done.stdout
    assert out.count("rc=2") == 4 and "Traceback" not in out, out
    assert out.count("standard input is closed") == 2
    assert "line 1: line longer than" in out and "larger than 1000000 bytes" in out


def test_non_unicode_stdout(tmp_path):
    encoding = "ascii"
    env = {"PYTHONIOENCODING": encoding}
    human = run_leuko(["causes", "show", "clozapine"], env)
    assert human.returncode == 0 and b"Traceback" not in human.stderr, human.stderr
    data = run_leuko(["causes", "--json"], env)
    assert data.returncode == 0
    assert json.loads(data.stdout.decode(encoding))  # \u escapes: still valid JSON
    rows = run_leuko(
        ["assess", "--input", write(tmp_path, "in.csv", "id,anc\nµ,500\n"), "--json"], env
    )
    assert rows.returncode == 0 and json.loads(rows.stdout.decode(encoding))["id"] == "µ"
    exported = run_leuko(["kb", "export"], env)  # a file format: UTF-8 whatever the locale
    assert exported.returncode == 0 and tomllib.loads(exported.stdout.decode("utf-8"))


@pytest.mark.parametrize(
    "which, argv",
    [
        ("overlay", ["causes", "--category", "drugs"]),
        ("overlay", ["assess", "--anc", "450"]),
        ("config", ["assess", "--anc", "450"]),  # (`causes` uses no setting: it runs)
    ],
)
def test_a_pipe_as_the_overlay_or_config_file_is_refused_not_waited_on(isolated_dirs, which, argv):
    """`mkfifo overlay.toml` (or config.toml): every command hung for ever, opening it to key
    the output cache or to read the settings."""
    folder = isolated_dirs / ("data" if which == "overlay" else "config")
    folder.mkdir(parents=True, exist_ok=True)
    os.mkfifo(folder / f"{which}.toml")
    done = run_leuko(argv, timeout=20)
    assert done.returncode == 3, done.stderr
    line = done.stderr.decode()
    assert "not a regular file" in line and f"{which}.toml" in line and line.count("\n") == 1


def test_sigint_during_a_store_build_leaves_no_temp_file(isolated_dirs, monkeypatch):
    monkeypatch.setenv("LEUKO_CACHE_DIR", str(isolated_dirs / "own-cache"))  # nothing built yet
    script = textwrap.dedent(
        """
        import os, signal
        from leuko_cli.kb import load, store
        def interrupted(conn, rows):  # SIGINT arrives while the store is being written
            signal.raise_signal(signal.SIGINT)
        store.create_search = interrupted
        try:
            load()
            print("finished")
        except KeyboardInterrupt:
            print("interrupted")
        print(sorted(os.listdir(os.environ["LEUKO_CACHE_DIR"])))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.stdout.splitlines()[0] == "interrupted", done.stderr
    assert ".tmp" not in done.stdout.splitlines()[-1]


def test_ctrl_c_in_a_typer_command_says_interrupted(invoke, monkeypatch):
    """Typer turns KeyboardInterrupt into a silent Exit(130): `leuko assess --input big.csv`
    stopped with Ctrl-C printed nothing at all."""
    from leuko_cli import commands

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "kb_info", interrupted)
    r = invoke("kb", "info")
    assert r.exit_code == 130 and r.stderr == "leuko: interrupted\n"


def test_ctrl_c_while_starting_up_is_one_line_not_a_traceback(monkeypatch, capsys):
    """Ctrl-C during the imports (before the guarded run) printed a Python traceback."""
    from leuko_cli import entry, fastpath

    def interrupted(argv):
        raise KeyboardInterrupt

    monkeypatch.setattr(fastpath, "run", interrupted)
    monkeypatch.setattr(sys, "argv", ["leuko", "assess", "--anc", "450"])
    monkeypatch.setenv("LEUKO_NO_OUTPUT_CACHE", "1")
    with pytest.raises(SystemExit) as done:
        entry.main()
    assert done.value.code == 130
    assert capsys.readouterr().err == "leuko: interrupted\n"


# --- concurrency: config updates are never lost -------------------------------------------------


def _bump(_n: int) -> None:
    """One read-modify-write of the config file through config.update (the `config set` path):
    `unit` holds a counter, so a lost update shows as a count below the number of workers."""
    from leuko_cli import commands, config

    config.update(lambda v: v.__setitem__("unit", str(int(v.get("unit", "0")) + 1)))
    key, value = [("audience", "patient"), ("ctcae_version", "5.0")][_n % 2]
    if _n % 5 == 0:
        commands.config_unset(key)
    else:
        commands.config_set(key, value)


def test_fifty_concurrent_updates_keep_every_write():
    workers = 50
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(10) as pool:
        pending = pool.map_async(_bump, range(workers))
        path = paths.config_path()
        seen = 0
        while not pending.ready():  # every version a reader sees is whole, valid TOML
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            tomllib.loads(data.decode("utf-8"))
            seen += 1
        pending.get()
    final = tomllib.loads(path.read_text(encoding="utf-8"))
    assert final["unit"] == str(workers)  # 50 read-modify-writes, none lost
    assert set(final) <= {"unit", "audience", "ctcae_version"}
    leftovers = [p.name for p in path.parent.iterdir() if p.name != "config.toml"]
    assert leftovers == []


@pytest.mark.parametrize("policy", ["skip", "fail"])
def test_a_json_lines_row_error_names_its_line_once(invoke, tmp_path, policy):
    """The reader's row error starts with its line (it is also the row's error cell); a stderr
    line that names the line itself does not say it twice."""
    path = write(tmp_path, "in.jsonl", b'{"anc": 450}\n{bad\n')
    result = invoke("assess", "--input", path, "--on-error", policy)
    assert "not valid JSON" in result.stderr and result.stderr.count("line 2") == 1


@pytest.mark.parametrize("what", ["export", "svg"])
def test_a_file_output_that_cannot_be_written_exits_4(invoke, tmp_path, monkeypatch, what):
    """kb export --output and trend --svg: a failed write is an output failure (exit 4, as the
    exit-code table says), and nothing is left behind."""
    import errno

    from leuko_cli import paths

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(paths, "write_atomic", full)
    target = tmp_path / ("kb.toml" if what == "export" else "chart.svg")
    if what == "export":
        res = invoke("kb", "export", "--output", str(target))
    else:
        series = tmp_path / "s.csv"
        series.write_text("date,anc\n2026-01-01,900\n2026-01-02,400\n2026-01-03,700\n")
        res = invoke("trend", str(series), "--svg", str(target))
    assert res.exit_code == 4, res.output
    assert "cannot write (No space left on device)" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not target.exists()


@pytest.mark.parametrize("through_link", [False, True])
def test_write_atomic_never_renames_over_a_pipe(tmp_path, through_link):
    """The last line of defence under every atomic write (config, kb export, trend --svg):
    a FIFO, or a link to one, is refused and left as it was (a device the same way: /dev/null
    was once replaced by a regular file on a shared machine)."""
    import os
    import stat

    from leuko_cli import paths

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    target = fifo
    if through_link:
        target = tmp_path / "link"
        target.symlink_to(fifo)
    with pytest.raises(OSError, match="not a regular file"):
        paths.write_atomic(target, b"x")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted({"pipe", target.name})
