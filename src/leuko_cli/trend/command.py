"""The `leuko trend` handler: read, grade, summarise per subject; an Answer out.

Numbers come from the KB `[[trend_rules]]` table (docs/trend.md); counts through `assess`.
"""

from __future__ import annotations

from leuko_cli.errors import InputError, check_choice, not_empty
from leuko_cli.output import Answer

from . import cycles, figures, series

FORMATS = ("table", "csv")
RULE_IDS = (
    "severe-neutropenia-duration",
    "anc-recovery",
    "day-carry",
    "cyclic-sampling",
    "cyclic-search",
)


def rules_of(kb) -> dict[str, dict]:
    return {rid: kb.get("trend_rules", rid) for rid in RULE_IDS}


def summarise(samples, rules, *, measure, day1, recovery_n, floor, cycles_on=True) -> dict:
    """Every figure of one subject's sorted samples."""
    days = figures.daily(samples)
    anc = measure == "anc"
    dsn = rules["severe-neutropenia-duration"]
    rec = rules["anc-recovery"]
    first, last = figures.span_dates(samples)
    out = {
        "counts": len(samples),
        "first_date": first,
        "last_date": last,
        "nadir": figures.nadir(samples, day1),
        "days": figures.day_counts(
            days,
            rules["day-carry"]["max_carry_days"],
            dsn["threshold_cells_per_ul"] if anc else None,
        ),
        "recovery": (
            figures.recovery(days, rec["threshold_cells_per_ul"], recovery_n, day1)
            if anc
            else {"status": "not-applicable", "date": None, "day": None}
        ),
        "direction": figures.direction(samples, floor),
        "worst_grade": figures.worst_grades(samples),
    }
    import math

    if not cycles_on:
        out["cycle"] = {
            "status": "not-run",
            "reason": "the cyclic screen runs for one subject, or with --cycles",
            "period_days": None,
            "power": None,
            "false_alarm": None,
        }
        return out
    out["cycle"] = cycles.screen(
        [s.t for s in samples],
        [math.log(max(s.cells, floor)) for s in samples],
        len(days),
        rules["cyclic-sampling"],
        rules["cyclic-search"],
    )
    return out


def trend(
    path: str,
    *,
    input_format: str | None = None,
    measure: str = "anc",
    day1: str | None = None,
    recovery_n: int | None = None,
    subject: str | None = None,
    unit: str | None = None,
    ctcae_version: str | None = None,
    svg: str | None = None,
    out_format: str | None = None,
    as_json: bool = False,
    width: int | None = None,
    cycles_on: bool | None = None,
    on_error: str | None = None,
) -> Answer:
    from leuko_cli.assess import GRADING_TABLES, overlay_grading_entries, overlay_note
    from leuko_cli.batch.grade import ON_ERROR
    from leuko_cli.kb import load
    from leuko_cli.settings import resolve_all

    if on_error is not None:
        check_choice("--on-error", on_error, ON_ERROR)
    check_choice("--measure", measure, series.MEASURES)
    if input_format is not None:
        check_choice("--input-format", input_format, series.INPUT_FORMATS)
    not_empty("--format", out_format)
    fmt = out_format or "table"
    check_choice("--format", fmt, FORMATS)
    if as_json and out_format is not None:
        raise InputError("give --json or --format, not both")
    start = series.parse_day1(day1)
    if svg is not None:
        from leuko_cli.paths import output_file

        if svg == "-":  # stdout elsewhere (kb export -o -); here stdout has the summary
            raise InputError("--svg -: the summary is on stdout; give the chart a file name")
        output_file("--svg", svg)  # refused before any work, as a bad flag is
    kb = load()
    rules = rules_of(kb)
    n = rules["anc-recovery"]["consecutive"] if recovery_n is None else recovery_n
    if n < 1:
        raise InputError(f"--recovery-n {n}: give 1 or more consecutive counts")
    settings = resolve_all(kb, {"unit": unit, "ctcae_version": ctcae_version, "audience": None})
    grader = series.Grader(kb, settings, {}, measure)
    skipped: list[int] = []
    stream = series.open_text(path)
    try:
        rows = series.rows(
            kb, stream, None if path == "-" else path, input_format, measure, skipped
        )
        got = series.collect(rows, grader, subject)
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text ({err.reason}); save it as UTF-8") from None
    except series.readers.StreamError as err:
        fix = f"; {err.fix}" if err.fix else ""
        raise InputError(f"{path}:{err.line}: {err.reason}{fix}") from None
    finally:
        stream.close()
    if on_error == "fail" and got.errors:  # the batch policy: the first bad row stops the run
        line, msg = got.errors[0]
        raise RowsFailed(f"{path}:{line}: {msg}; --on-error fail: no summary written")
    if skipped:
        got.notes.append(f"{len(skipped)} row(s) of other tests skipped (measure {measure})")
    got.notes.extend(grader.notes)
    if subject is not None and not got.subjects:
        raise InputError(f"--subject {subject!r}: no counts for that subject in {path}")
    floor = kb.get("measures", measure)["min_positive_cells_per_ul"]
    subjects = []
    # the screen costs a periodogram and its permutations per subject: on by default for one
    # subject (the clinical question), asked for with --cycles when a file holds many
    screen = cycles_on if cycles_on is not None else len(got.subjects) == 1
    for sid, samples in got.subjects.items():
        if not samples:
            continue
        s = summarise(
            samples, rules, measure=measure, day1=start, recovery_n=n, floor=floor, cycles_on=screen
        )
        subjects.append({"subject": sid, **s})
    if any(figures.UNKNOWN in s["days"]["by_grade"] for s in subjects):
        got.notes.append(
            "grade unknown: on those days the CTCAE grade depends on the lab's lower limit "
            f"of normal (a {_lln_column(measure)} column)"
        )
    used = {k: settings[k].as_dict() for k in ("unit", "ctcae_version")}
    if used["ctcae_version"]["origin"].startswith("default"):  # as assess: say what it means
        got.notes.append(
            kb.settings["ctcae_default_note"].format(version=used["ctcae_version"]["value"])
        )
    refs: list[str] = []
    for r in rules.values():
        refs.extend(x for x in r["references"] if x not in refs)
    data = {
        "measure": measure,
        "unit": "cells/uL",
        "day1": start.isoformat() if start else None,
        "rows": got.rows,
        "subjects": subjects,
        "errors": [{"line": line, "error": msg} for line, msg in got.errors],
        "notes": got.notes,
        "rules": {rid: _rule(r) for rid, r in rules.items()},
        "settings": used,
        "references": refs,
        "overlay_entries": overlay_grading_entries(kb, (*GRADING_TABLES, "trend_rules")),
        "disclaimer": kb.disclaimer(),
    }
    if svg is not None:
        _write_svg(kb, svg, got.subjects, data, measure, settings, floor)
    note = _error_lines(got.errors, len(subjects))
    code = 1 if got.errors else 0
    if not subjects and not got.errors:
        raise InputError(f"{path}: no dated counts found")
    if fmt == "csv" and not as_json:
        line = overlay_note(data["overlay_entries"])  # the CSV has no room: named on stderr
        if line:
            note = line if note is None else note + "\n" + line
        return Answer("text", csv_text(subjects), kb, exit_code=code, note=note)
    context = {"series": got.subjects, "settings": settings, "floor": floor, "width": width}
    return Answer("trend", data, kb, exit_code=code, note=note, context=context)


class RowsFailed(InputError):
    """--on-error fail met a bad row: exit 1, as a failed batch row does."""

    exit_code = 1


def _rule(r: dict) -> dict:
    return {k: v for k, v in r.items() if v is not None and k != "source"}


def _error_lines(errors, n_subjects: int) -> str | None:
    if not errors:
        return None
    from leuko_cli.errors import without_line
    from leuko_cli.sanitize import inert_line

    lines = [f"leuko: line {line}: {inert_line(without_line(line, msg))}" for line, msg in errors]
    lines.append(f"leuko: {len(errors)} row error(s); {n_subjects} subject(s) summarised")
    return "\n".join(lines)


def _lln_column(measure: str) -> str:
    """The batch column with the lab's lower limit for this measure (fields.UNKNOWN_GRADES)."""
    from leuko_cli.fields import UNKNOWN_GRADES

    return next(lln for _col, path, lln in UNKNOWN_GRADES if path[0] == measure)


def grade_function(kb, version: str, measure: str):
    """cells -> CTCAE grade (None: unknown) on `version`, the version the counts were graded
    with (the KB scale), for chart bands."""
    from leuko_cli import grading

    scale = grading.ctcae_scale(kb, measure, version)
    if scale is None:
        return lambda cells: None
    return lambda cells: grading.grade(scale, cells)["grade"]


def _write_svg(kb, path: str, by_subject: dict, data: dict, measure, settings, floor) -> None:
    from . import svg

    if not data["subjects"]:
        raise InputError("--svg: no count could be read, so no chart (see the row errors)")
    if len(data["subjects"]) != 1:
        raise InputError(
            f"--svg draws one subject and the file has {len(data['subjects'])}; "
            "pick one with --subject ID"
        )
    summary = data["subjects"][0]
    samples = by_subject[summary["subject"]]
    cells = [s.cells for s in samples]
    low = min(range(len(samples)), key=lambda i: (cells[i], i))
    nad = summary["nadir"]
    day = f", day {nad['day']}" if nad["day"] is not None else ""
    title = f"{measure.upper()} series" + (
        f": {summary['subject']}" if summary["subject"] is not None else ""
    )
    text = svg.render(
        title,
        [s.t for s in samples],
        cells,
        low,
        grade_function(kb, nad["ctcae_version"], measure),
        floor,
        summary["first_date"],
        summary["last_date"],
        f"nadir {nad['value']:g}/µL {nad['date']}{day}",
        f"CTCAE {nad['ctcae_version']}",
    )
    svg.write_atomic(path, text)


CSV_COLUMNS = (
    "subject",
    "counts",
    "first_date",
    "last_date",
    "nadir",
    "nadir_date",
    "nadir_day",
    "ctcae_version",
    "worst_grade",
    "days_observed",
    "days_unobserved",
    "days_below_500",
    "recovery_status",
    "recovery_date",
    "recovery_day",
    "change_pct_per_week",
    "direction_points",
    "cycle_status",
    "cycle_period_days",
    "cycle_power",
    "cycle_false_alarm",
)


def csv_text(subjects: list[dict]) -> str:
    import csv
    import io

    from leuko_cli.sanitize import inert_line

    grades = sorted({g for s in subjects for g in s["days"]["by_grade"]}, key=figures.grade_order)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(list(CSV_COLUMNS) + [f"days_grade_{g}" for g in grades])
    for s in subjects:
        worst = s["worst_grade"]
        version = next(iter(worst), None)
        row = [
            s["subject"],
            s["counts"],
            s["first_date"],
            s["last_date"],
            s["nadir"]["value"],
            s["nadir"]["date"],
            s["nadir"]["day"],
            version,
            worst.get(version) if version else None,
            s["days"]["observed"],
            s["days"]["unobserved"],
            s["days"]["below_threshold"],
            s["recovery"]["status"],
            s["recovery"]["date"],
            s["recovery"]["day"],
            s["direction"]["percent_per_week"],
            s["direction"]["points"],
            s["cycle"]["status"],
            s["cycle"]["period_days"],
            s["cycle"]["power"],
            s["cycle"]["false_alarm"],
        ]
        row += [s["days"]["by_grade"].get(g, 0) for g in grades]
        # the subject is text from outside: shown inert, as assess --input's CSV shows it
        w.writerow(["" if v is None else inert_line(v) if isinstance(v, str) else v for v in row])
    return buf.getvalue()
