"""`leuko trend`: known answers on synthetic series, the day rule, recovery, direction, the
cyclic screen, bad rows, FHIR time zones, hostile ids, the chart and the SVG."""

from __future__ import annotations

import json
import math
import random
from datetime import date, datetime, timedelta

import pytest

D0 = date(2024, 3, 1)


def _csv(tmp_path, rows, header="date,anc", name="s.csv"):
    p = tmp_path / name
    p.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows), "utf-8")
    return str(p)


def _daily(values, start=D0, step=1):
    return [((start + timedelta(days=i * step)).isoformat(), v) for i, v in enumerate(values)]


def _json(invoke, *args, **kw):
    r = invoke("trend", *args, "--json", **kw)
    assert "Traceback" not in r.stdout + r.stderr
    return r, json.loads(r.stdout)


CHEMO = [3000, 2800, 2100, 1400, 900, 520, 310, 180, 120, 150, 260, 480, 700, 1100, 1600, 2200]


def test_nadir_dsn_recovery_exact(invoke, tmp_path):
    r, d = _json(invoke, _csv(tmp_path, _daily(CHEMO)), "--day1", "2024-03-01")
    assert r.exit_code == 0
    s = d["subjects"][0]
    assert s["nadir"] == {**s["nadir"], "value": 120, "date": "2024-03-09", "day": 9}
    assert s["days"]["below_threshold"] == 6  # 310 180 120 150 260 480
    assert s["days"]["threshold"] == 500
    assert s["recovery"]["status"] == "recovered"
    assert s["recovery"]["date"] == "2024-03-13" and s["recovery"]["day"] == 13
    assert s["worst_grade"] == {"6.0": 3}  # 120/µL: grade 3 in CTCAE 6.0 (grade 4 is < 100)
    assert sum(s["days"]["by_grade"].values()) == s["days"]["observed"] == len(CHEMO)


@pytest.mark.parametrize(
    "gaps, values, below, observed, unobserved",
    [
        ([0, 3], [400, 800], 3, 4, 0),  # 400 stands for days 0-2, 800 for its own day
        ([0, 1, 2], [400, 400, 400], 3, 3, 0),
        ([0, 10], [400, 800], 7, 8, 3),  # a count stands for at most 7 days
        ([0, 7], [800, 400], 1, 8, 0),
        ([0], [300], 1, 1, 0),  # one count: its own day
    ],
)
def test_day_rule_for_gaps(invoke, tmp_path, gaps, values, below, observed, unobserved):
    rows = [((D0 + timedelta(days=g)).isoformat(), v) for g, v in zip(gaps, values)]
    _r, d = _json(invoke, _csv(tmp_path, rows))
    days = d["subjects"][0]["days"]
    assert (days["below_threshold"], days["observed"], days["unobserved"]) == (
        below,
        observed,
        unobserved,
    )


def test_lowest_count_of_a_day_counts_for_that_day(invoke, tmp_path):
    rows = [("2024-03-01T08:00", 600), ("2024-03-01T18:00", 450), ("2024-03-02T08:00", 900)]
    _r, d = _json(invoke, _csv(tmp_path, rows))
    assert d["subjects"][0]["days"]["below_threshold"] == 1


@pytest.mark.parametrize(
    "values, n, status, when",
    [
        ([100, 600, 700, 800], 3, "recovered", "2024-03-02"),
        ([100, 600, 400, 700, 800, 900], 3, "recovered", "2024-03-04"),
        ([100, 600, 700], 3, "not-recovered", None),
        ([100, 600, 700], 2, "recovered", "2024-03-02"),
        ([900, 800, 1000], 3, "never-below", None),
        ([600, 700, 800, 100, 200], 3, "not-recovered", None),  # counting starts at the nadir
    ],
)
def test_recovery_rule(invoke, tmp_path, values, n, status, when):
    _r, d = _json(invoke, _csv(tmp_path, _daily(values)), "--recovery-n", str(n))
    rec = d["subjects"][0]["recovery"]
    assert (rec["status"], rec["date"], rec["consecutive"]) == (status, when, n)


def test_recovery_default_comes_from_the_kb(kb):
    from leuko_cli.trend.command import rules_of

    rule = rules_of(kb)["anc-recovery"]
    assert rule["consecutive"] == 3 and rule["threshold_cells_per_ul"] == 500
    assert rule["references"]


def test_direction_on_a_log_scale(invoke, tmp_path):
    # halves every week: -50 %/week exactly, whatever the sampling
    rows = [
        ((D0 + timedelta(days=t)).isoformat(), round(4000 * 0.5 ** (t / 7)))
        for t in (0, 3, 7, 8, 14)
    ]
    _r, d = _json(invoke, _csv(tmp_path, rows))
    dr = d["subjects"][0]["direction"]
    assert dr["points"] == 5 and dr["status"] == "falling"
    assert dr["percent_per_week"] == pytest.approx(-50, abs=0.5)


def test_single_and_two_point_series(invoke, tmp_path):
    _r, d = _json(invoke, _csv(tmp_path, _daily([450])))
    s = d["subjects"][0]
    assert s["nadir"]["value"] == 450 and s["direction"]["percent_per_week"] is None
    assert s["cycle"]["status"] == "insufficient"
    r = invoke("trend", _csv(tmp_path, _daily([450])))
    assert r.exit_code == 0 and "Nadir: 450" in r.stdout
    _r, d = _json(invoke, _csv(tmp_path, _daily([1000, 2000], step=7)))
    assert d["subjects"][0]["direction"]["percent_per_week"] == 100.0


def _cyclic(seed: int, period: float = 21.0, weeks: int = 9):
    rnd = random.Random(seed)
    rows, t = [], rnd.random()
    while t < weeks * 7:
        ln = math.log(1500) + 1.5 * math.sin(2 * math.pi * t / period) + rnd.gauss(0, 0.35)
        when = datetime(2024, 1, 1) + timedelta(days=t)
        rows.append((when.isoformat(timespec="minutes"), round(math.exp(ln))))
        t += rnd.choice([1, 2, 2, 3]) + rnd.uniform(-0.3, 0.3)  # irregular sampling
    return rows


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_cycle_of_21_days_found(invoke, tmp_path, seed):
    pytest.importorskip("scipy")
    _r, d = _json(invoke, _csv(tmp_path, _cyclic(seed)))
    c = d["subjects"][0]["cycle"]
    assert c["status"] == "cycle", c
    assert abs(c["period_days"] - 21) <= 2


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_no_cycle_claimed_for_noise(invoke, tmp_path, seed):
    pytest.importorskip("scipy")
    rnd = random.Random(seed)
    rows = [
        (
            (D0 + timedelta(days=i * 1.7)).isoformat(),
            round(math.exp(math.log(1500) + rnd.gauss(0, 0.6))),
        )
        for i in range(40)
    ]
    _r, d = _json(invoke, _csv(tmp_path, rows))
    assert d["subjects"][0]["cycle"]["status"] == "no-cycle"


def test_cycle_refused_when_sampling_is_too_sparse(invoke, tmp_path):
    weekly = _daily([1500, 200, 1500, 1600, 300, 1400, 1500, 250, 1500, 1600], step=7)
    _r, d = _json(invoke, _csv(tmp_path, weekly))
    c = d["subjects"][0]["cycle"]
    assert c["status"] == "insufficient" and "3 days a week" in c["reason"]


def test_missing_scipy_is_one_clear_reason(monkeypatch):
    import builtins

    from leuko_cli.trend import cycles

    real = builtins.__import__

    def fake(name, *a, **kw):
        if name.startswith("scipy"):
            raise ImportError(name)
        return real(name, *a, **kw)

    monkeypatch.setattr(builtins, "__import__", fake)
    ts = [i * 2.0 for i in range(30)]
    ys = [math.sin(t) for t in ts]
    sampling = {"id": "s", "min_per_week": 3, "min_weeks": 6}
    search = {
        "id": "c",
        "min_period_days": 10,
        "max_period_days": 42,
        "false_alarm_max": 0.01,
        "permutations": 9,
    }
    out = cycles.screen(ts, ys, 30, sampling, search)
    assert out["status"] == "unavailable" and "leuko-cli[trend]" in out["reason"]


def test_bad_rows_are_line_errors_and_unsorted_input_is_sorted(invoke, tmp_path):
    rows = [
        ("2024-03-03", 800),
        ("", 500),  # line 3: no date
        ("03/04/2024", 500),  # line 4: not ISO
        ("2024-03-01", 300),
        ("2024-03-01", 350),  # line 6: same time, another value
        ("2024-03-02", 300),
        ("2024-03-02", 300),  # same time, same value: once
    ]
    r, d = _json(invoke, _csv(tmp_path, rows))
    assert r.exit_code == 1
    lines = [e["line"] for e in d["errors"]]
    assert lines == [3, 4, 6]
    assert "line 3: no date" in r.stderr and "line 6: same time as line 5" in r.stderr
    assert any("sorted" in n for n in d["notes"])
    assert d["subjects"][0]["counts"] == 3
    # a JSON Lines reader's error names its line once
    r = invoke("trend", "-", input='{"date": "2024-03-01", "anc": 450}\n{bad\n')
    assert "leuko: line 2: not valid JSON" in r.stderr and "line 2: line 2" not in r.stderr


def test_many_subjects_and_csv_summary(invoke, tmp_path):
    rows = [("a", d, v) for d, v in _daily([900, 400, 700])] + [
        ("b", d, v) for d, v in _daily([2000, 1900])
    ]
    path = _csv(tmp_path, rows, header="subject,date,anc")
    _r, d = _json(invoke, path)
    assert [s["subject"] for s in d["subjects"]] == ["a", "b"]
    assert {s["cycle"]["status"] for s in d["subjects"]} == {"not-run"}  # opt-in for many
    r = invoke("trend", path, "--format", "csv")
    head, a, b = r.stdout.strip().splitlines()
    assert head.startswith("subject,counts,") and a.startswith("a,3,") and b.startswith("b,2,")


def test_fhir_time_zones(invoke, tmp_path):
    def obs(i, when, value):
        return {
            "resource": {
                "resourceType": "Observation",
                "id": f"o{i}",
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "751-8"}]},
                "subject": {"reference": "Patient/1"},
                "effectiveDateTime": when,
                "valueQuantity": {
                    "value": value,
                    "unit": "10*3/uL",
                    "system": "http://unitsofmeasure.org",
                    "code": "10*3/uL",
                },
            }
        }

    # instants: 07:00Z on the 5th, 01:00Z on the 6th, then 23:30-05:00 = 04:30Z on the 6th,
    # whose calendar day (as written, the lab's own day) is still the 5th
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            obs(1, "2024-03-06T01:00:00Z", 0.9),
            obs(2, "2024-03-05T23:30:00-05:00", 0.3),
            obs(3, "2024-03-05T08:00:00+01:00", 1.2),
        ],
    }
    p = tmp_path / "b.json"
    p.write_text(json.dumps(bundle), "utf-8")
    _r, d = _json(invoke, str(p))
    s = d["subjects"][0]
    assert s["subject"] == "Patient/1"
    assert s["nadir"]["value"] == 300 and s["nadir"]["date"] == "2024-03-05"
    assert s["first_date"] == "2024-03-05" and s["last_date"] == "2024-03-05"
    assert s["nadir"]["line"] == 2  # the second Observation group: the last in time
    assert any("sorted" in n for n in d["notes"])
    # the same Observations as FHIR Bulk Data NDJSON, under the names Bulk exports use
    lines = "".join(json.dumps(e["resource"]) + "\n" for e in bundle["entry"])
    for name in ("Observation.ndjson", "obs.jsonl"):
        (tmp_path / name).write_text(lines, "utf-8")
        _r, nd = _json(invoke, str(tmp_path / name))
        assert nd["subjects"] == d["subjects"], name
    # the Bundle pretty-printed on stdin (its first line a lone brace)
    _r, pretty = _json(invoke, "-", input=json.dumps(bundle, indent=2))
    assert pretty["subjects"] == d["subjects"]
    # and in a file, whatever its JSON name (a lone brace is no JSON Lines row)
    for name in ("pretty.json", "pretty.ndjson", "pretty.jsonl"):
        (tmp_path / name).write_text(json.dumps(bundle, indent=2), "utf-8")
        _r, pretty = _json(invoke, str(tmp_path / name))
        assert pretty["subjects"] == d["subjects"], name
    # a plain row among the resources is refused with its line, not dropped
    mixed = tmp_path / "mixed.ndjson"
    mixed.write_text(lines + '{"date": "2024-03-07", "anc": 100}\n', "utf-8")
    r = invoke("trend", str(mixed))
    assert r.exit_code == 2 and "resourceType" in r.stderr
    # named as the user gave it (`trend FILE`), not as assess's --fhir option
    assert r.stderr.startswith(f"leuko: error: {mixed} line 4: ") and "--fhir" not in r.stderr
    nothing = json.dumps({"resourceType": "Bundle", "type": "collection", "entry": []})
    for args, name in (
        ((str(mixed.with_suffix(".json")),), str(mixed.with_suffix(".json"))),
        (("-",), "stdin"),
    ):
        mixed.with_suffix(".json").write_text(nothing, "utf-8")
        r = invoke("trend", *args, input=nothing)
        assert r.exit_code == 2 and r.stderr.startswith(f"leuko: error: {name}: "), r.stderr
        assert "--fhir" not in r.stderr


@pytest.mark.parametrize(
    "first",
    [
        '{"date": "2024-03-05", "anc": 450}',  # JSON Lines rows
        '{"date": "2024-03-05", "anc": 450, "note": "resourceType"}',
        '{"resourceType": 1, "date": "2024-03-05", "anc": 450}',  # not a resource type
    ],
)
def test_json_lines_rows_are_not_taken_for_fhir(invoke, tmp_path, first):
    # under a .json name too, as assess --input reads them (as FHIR every row was refused)
    for name in ("rows.ndjson", "rows.json"):
        p = tmp_path / name
        p.write_text(first + "\n" + first.replace("03-05", "03-06") + "\n", "utf-8")
        _r, d = _json(invoke, str(p))
        assert d["subjects"][0]["nadir"]["value"] == 450 and d["rows"] == 2, name
    # the same bytes on stdin: the same rows (no file name to go by)
    _r, d = _json(invoke, "-", input=first + "\n")
    assert d["subjects"][0]["nadir"]["value"] == 450


def test_hostile_subject_id_is_inert(invoke, tmp_path):
    evil = "\x1b]8;;http://x\x07pt\x1b[31m"
    p = tmp_path / "h.jsonl"
    p.write_text(
        "".join(
            json.dumps({"subject": evil, "date": dt, "anc": v}) + "\n"
            for dt, v in _daily([400, 900])
        ),
        "utf-8",
    )
    r = invoke("trend", str(p))
    assert r.exit_code == 0
    assert "\x1b" not in r.stdout and "\\x1b" in r.stdout
    svg = tmp_path / "h.svg"
    r = invoke("trend", str(p), "--svg", str(svg))
    text = svg.read_text("utf-8")
    assert "\x1b" not in r.stdout and text.startswith("<svg")


def test_svg_escapes_and_refuses_many_subjects(invoke, tmp_path):
    rows = [("<b>&", d, v) for d, v in _daily([900, 400, 700])] + [("z", "2024-03-01", 800)]
    path = _csv(tmp_path, rows, header="subject,date,anc")
    out = tmp_path / "c.svg"
    r = invoke("trend", path, "--svg", str(out))
    assert r.exit_code == 2 and "--subject" in r.stderr and not out.exists()
    r = invoke("trend", path, "--svg", str(out), "--subject", "<b>&")
    assert r.exit_code == 0
    text = out.read_text("utf-8")
    assert "&lt;b&gt;&amp;" in text and "<b>" not in text
    import xml.dom.minidom

    xml.dom.minidom.parseString(text)  # well-formed


@pytest.mark.parametrize("width, marker", [(80, "▼"), (40, "^ nadir")])
def test_chart_wide_and_sparkline(invoke, tmp_path, monkeypatch, width, marker):
    monkeypatch.setenv("COLUMNS", str(width))
    r = invoke("trend", _csv(tmp_path, _daily(CHEMO)))
    assert marker in r.stdout
    assert "\x1b[" not in r.stdout  # NO_COLOR / not a terminal: plain text
    assert max(len(line) for line in r.stdout.splitlines()) <= width


def test_cdisc_long_format(invoke, tmp_path):
    rows = [
        ("01-1", "WBC", "2014-01-02", "", 3.1),
        ("01-1", "LYMPH", "2014-01-02", "", 1.0),
        ("01-1", "WBC", "", "2014-01-16", 2.5),
    ]
    path = _csv(tmp_path, rows, header="USUBJID,PARAMCD,ADT,LBDTC,AVAL")
    _r, d = _json(invoke, path, "--measure", "wbc", "--unit", "10^9/L")
    s = d["subjects"][0]
    assert s["subject"] == "01-1" and s["counts"] == 2 and s["nadir"]["value"] == 2500
    assert s["recovery"]["status"] == "not-applicable"


def test_trend_help_has_examples(invoke):
    r = invoke("trend", "--help")
    assert r.exit_code == 0 and "Example" in r.stdout


def test_on_error_fail_stops_at_the_first_bad_row(invoke, tmp_path):
    path = tmp_path / "counts.csv"
    path.write_text("date,anc\n2024-01-01,500\nnot-a-date,400\n2024-01-03,600\n")
    res = invoke("trend", str(path), "--on-error", "fail")
    assert res.exit_code == 1 and res.stdout == ""
    assert ":3:" in res.stderr and "no summary written" in res.stderr
    assert invoke("trend", str(path), "--on-error", "nope").exit_code == 2
    kept = invoke("trend", str(path), "--json")  # the default: reported, the rest summarised
    assert kept.exit_code == 1 and json.loads(kept.stdout)["errors"][0]["line"] == 3


def test_an_endless_input_is_refused_not_read_forever(invoke, monkeypatch):
    monkeypatch.setenv("LEUKO_MAX_LINE_BYTES", "4096")
    res = invoke("trend", "/dev/zero")
    assert res.exit_code == 2 and "/dev/zero:1: line longer than 4096 bytes" in res.stderr


# CTCAE 5.0's grade 1 for the ANC is "<LLN - 1500": a count of 1500 or more without the lab's
# lower limit is grade 0 or 1, unknown. The series must say so, never crash or print "None".
LLN_SERIES = [3000, 1600, 900, 400, 1200, 2000]


def test_unknown_grades_without_an_lln_are_named_in_every_output(invoke, tmp_path, monkeypatch):
    path = _csv(tmp_path, _daily(LLN_SERIES))
    monkeypatch.setenv("COLUMNS", "80")
    r = invoke("trend", path, "--ctcae-version", "5.0")
    assert r.exit_code == 0, r.stderr
    assert "None" not in r.stdout and "lower limit of normal" in " ".join(r.stdout.split())
    _r, d = _json(invoke, path, "--ctcae-version", "5.0")
    by_grade = d["subjects"][0]["days"]["by_grade"]
    assert "None" not in by_grade and by_grade["unknown"] == 3  # 3000 1600 2000
    assert sum(by_grade.values()) == len(LLN_SERIES)
    r = invoke("trend", path, "--ctcae-version", "5.0", "--format", "csv")
    assert r.exit_code == 0, r.stderr
    head, row = r.stdout.strip().splitlines()
    cells = dict(zip(head.split(","), row.split(",")))
    assert cells["days_grade_unknown"] == "3" and cells["ctcae_version"] == "5.0"
    svg = tmp_path / "c.svg"
    r = invoke("trend", path, "--ctcae-version", "5.0", "--svg", str(svg))
    assert r.exit_code == 0, r.stderr
    assert "CTCAE 5.0" in svg.read_text("utf-8")


def test_lymphocyte_chart_is_shaded_with_the_version_that_graded(invoke, tmp_path, monkeypatch):
    """CTCAE 6.0 has no lymphocyte term in the KB: the counts are graded as assess grades them,
    and the chart's margin must use that same version, not crash on a missing 6.0 scale."""
    rows = [(d, 1000, v) for d, v in _daily([900, 400, 150, 600])]
    path = _csv(tmp_path, rows, header="date,lymphocytes_lln,lymphocytes")
    monkeypatch.setenv("COLUMNS", "80")
    r = invoke("trend", path, "--measure", "lymphocytes", "--ctcae-version", "6.0")
    assert r.exit_code == 0, r.stderr
    assert "G4│" in r.stdout  # 150/µL: grade 4 in the version named in the summary


def test_many_subjects_line_names_the_kb_threshold(invoke, tmp_path, isolated_dirs, kb):
    """The days-below figure is counted from the KB rule's threshold; the one-line-per-subject
    view must print that threshold, not a 500 of its own."""
    import tomli_w

    rule = {
        k: v
        for k, v in kb.get("trend_rules", "severe-neutropenia-duration").items()
        if k not in ("source", "source_location") and v is not None
    }
    rule["threshold_cells_per_ul"] = 400
    overlay = isolated_dirs / "data" / "overlay.toml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text(tomli_w.dumps({"trend_rules": [rule]}))
    rows = [("a", d, v) for d, v in _daily([900, 450, 300])] + [
        ("b", d, v) for d, v in _daily([2000, 1900])
    ]
    out = invoke("trend", _csv(tmp_path, rows, header="subject,date,anc")).stdout
    assert "<400: 1 d" in out and "<500" not in out


def test_the_ctcae_version_and_unit_say_where_they_came_from(invoke, tmp_path):
    """As assess does: the settings used, each with its origin, and the default-version note."""
    path = _csv(tmp_path, _daily(CHEMO))
    _r, d = _json(invoke, path)
    assert d["settings"]["ctcae_version"] == {"value": "6.0", "origin": "default"}
    assert d["settings"]["unit"]["origin"] == "default"
    assert any("--ctcae-version 5.0" in n for n in d["notes"])
    _r, d = _json(invoke, path, "--ctcae-version", "5.0")
    assert d["settings"]["ctcae_version"] == {"value": "5.0", "origin": "flag"}
    assert not any("--ctcae-version 5.0" in n for n in d["notes"])
    human = " ".join(invoke("trend", path).stdout.split())
    assert "ctcae version 6.0 (default)" in human


def test_svg_target_that_is_not_a_file_is_refused_and_left_alone(invoke, tmp_path):
    """`--svg /dev/null` run as root must not replace the device with a regular file."""
    import os
    import stat

    path = _csv(tmp_path, _daily([900, 400, 700]))
    fifo = tmp_path / "pipe.svg"
    os.mkfifo(fifo)
    r = invoke("trend", path, "--svg", str(fifo))
    assert r.exit_code == 2 and "not a regular file" in r.stderr, r.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    r = invoke("trend", path, "--svg", "")
    assert r.exit_code == 2 and "--svg is empty" in r.stderr, r.stderr
    r = invoke("trend", path, "--svg", "-")  # '-' is stdout elsewhere: not a file called '-'
    assert r.exit_code == 2 and "stdout" in r.stderr and not (tmp_path / "-").exists()


def test_an_empty_format_is_refused_not_defaulted(invoke, tmp_path):
    r = invoke("trend", _csv(tmp_path, _daily([900, 400, 700])), "--format", "")
    assert r.exit_code == 2 and r.stdout == "" and "--format is empty" in r.stderr, r.stderr


def test_svg_is_written_with_the_usual_file_mode(invoke, tmp_path):
    """A chart is for sharing: not the 0600 of a bare temp file."""
    import os

    out = tmp_path / "c.svg"
    old = os.umask(0o022)
    try:
        r = invoke("trend", _csv(tmp_path, _daily([900, 400, 700])), "--svg", str(out))
        assert r.exit_code == 0
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644


def test_a_ctcae_version_fallback_is_said_as_assess_says_it(invoke, tmp_path):
    """CTCAE 6.0 has no lymphocyte term in the KB: assess notes that it graded with 5.0, and
    the trend of the same counts must say it too (the settings line still reads 6.0)."""
    path = _csv(tmp_path, _daily([900, 400, 150]), header="date,lymphocytes")
    r, d = _json(invoke, path, "--measure", "lymphocytes", "--ctcae-version", "6.0")
    assert r.exit_code == 0, r.stderr
    assert d["settings"]["ctcae_version"]["value"] == "6.0"
    assert any("graded with CTCAE 5.0" in n for n in d["notes"]), d["notes"]
    r = invoke("trend", path, "--measure", "lymphocytes", "--ctcae-version", "6.0")
    assert "graded with CTCAE 5.0" in " ".join(r.stdout.split())


def test_a_fhir_date_error_names_its_observations(invoke, tmp_path):
    """A Bundle is one line: the error of a group (numbered as `line`) names its Observation
    so it can be found; a partial date (2024-03) is refused, not placed on a day."""

    def obs(i, when):
        return {
            "resourceType": "Observation",
            "id": i,
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "751-8"}]},
            "subject": {"reference": "Patient/1"},
            "effectiveDateTime": when,
            "valueQuantity": {"value": 400, "system": "http://unitsofmeasure.org", "code": "/uL"},
        }

    doc = {"resourceType": "Bundle", "type": "collection"}
    doc["entry"] = [{"resource": obs("ok", "2024-03-05")}, {"resource": obs("bad", "2024-03")}]
    p = tmp_path / "b.json"
    p.write_text(json.dumps(doc), "utf-8")
    r, d = _json(invoke, str(p))
    assert r.exit_code == 1 and len(d["errors"]) == 1
    assert "Observation 'bad'" in d["errors"][0]["error"], d["errors"]
    assert "Observation 'bad'" in invoke("trend", str(p)).stderr


def test_a_file_with_no_readable_count_says_so(invoke, tmp_path):
    """Every row bad: no "0 subject(s). One subject's chart: --subject ID" (no subject to
    pick); the errors are the answer, and --svg says there is nothing to draw."""
    path = _csv(tmp_path, [("2024-03-01", "abc"), ("2024-03-02", "-5")])
    r = invoke("trend", path)
    assert r.exit_code == 1 and "line 2" in r.stderr and "line 3" in r.stderr
    assert "--subject" not in r.stdout and "no count" in r.stdout
    r = invoke("trend", path, "--svg", str(tmp_path / "c.svg"))
    assert r.exit_code == 2 and "--subject" not in r.stderr and "no count" in r.stderr
    assert not (tmp_path / "c.svg").exists()
