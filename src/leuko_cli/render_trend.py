"""Rich output of `leuko trend` (render.py's style and console; imported only to render).

One subject: the figures, then the chart. Many: one table row per subject (stacked lines below
render.NARROW columns). Every string from outside (subject ids) is made inert first.
"""

from __future__ import annotations

from .output import Answer
from .render import NARROW, _cites, _disclaimer, _references, _settings_line, console
from .sanitize import inert_line


def _who(s: dict) -> str:
    return "(one series)" if s["subject"] is None else inert_line(s["subject"])


def _recovery(r: dict) -> str:
    if r["status"] == "recovered":
        day = f" (day {r['day']})" if r.get("day") is not None else ""
        return f"{r['date']}{day}"
    return {
        "not-recovered": "not yet",
        "never-below": "never below threshold",
        "not-applicable": "n/a (ANC only)",
    }.get(r["status"], r["status"])


def _direction(d: dict) -> str:
    if d["percent_per_week"] is None:
        return f"n/a ({d['points']} point(s))"
    return f"{d['percent_per_week']:+.1f}%/week ({d['points']} points)"


def _cycle(c: dict) -> str:
    if c["status"] == "cycle":
        return f"~{c['period_days']:g} days (power {c['power']:.2f}, FAP {c['false_alarm']:.3g})"
    if c["status"] == "no-cycle":
        return f"none found ({c['reason']})"
    return f"not assessed: {c.get('reason')}"


def _figures(con, s: dict, data: dict, kb) -> None:
    from rich.text import Text

    nad = s["nadir"]
    day = f", day {nad['day']}" if nad["day"] is not None else ""
    rules = data["rules"]
    con.print(
        Text(
            f"Subject {_who(s)}: {s['counts']} count(s), {s['first_date']} to {s['last_date']}",
            style="bold",
        )
    )
    con.print(f"Nadir: {nad['value']:g} cells/µL on {nad['date']}{day} (line {nad['line']})")
    d = s["days"]
    if d["below_threshold"] is not None:
        dsn = rules["severe-neutropenia-duration"]
        con.print(
            f"Days below {d['threshold']:g}/µL: {d['below_threshold']} "
            f"{_cites(kb, dsn['references'])}"
        )
    grades = ", ".join(
        f"{g} {n}" if g == "unknown" else f"G{g} {n}" for g, n in d["by_grade"].items()
    )
    version = nad["ctcae_version"]
    con.print(
        f"Days per CTCAE {version} grade: {grades} (observed {d['observed']}, "
        f"unobserved {d['unobserved']}; rule: day-carry)"
    )
    rec = rules["anc-recovery"]
    con.print(f"Recovery: {_recovery(s['recovery'])} {_cites(kb, rec['references'])}")
    con.print(f"Direction: {_direction(s['direction'])}, log scale")
    worst = ", ".join(f"CTCAE {v} grade {g}" for v, g in s["worst_grade"].items())
    con.print(f"Lowest grade reached: {worst}")
    cyc = rules["cyclic-sampling"]
    con.print(f"Cycle: {_cycle(s['cycle'])} {_cites(kb, cyc['references'])}")


def trend(answer: Answer) -> None:
    from rich.text import Text

    from .trend.chart import chart
    from .trend.command import grade_function

    kb, data, ctx = answer.kb, answer.data, answer.context
    con = console()
    width = ctx.get("width") or con.width
    subjects = data["subjects"]
    if len(subjects) == 1:
        s = subjects[0]
        _figures(con, s, data, kb)
        samples = ctx["series"][s["subject"]]
        cells = [x.cells for x in samples]
        low = min(range(len(cells)), key=lambda i: (cells[i], i))
        grade_of = grade_function(kb, s["nadir"]["ctcae_version"], data["measure"])
        for line in chart(
            [x.t for x in samples],
            cells,
            low,
            grade_of,
            ctx["floor"],
            width,
            s["first_date"],
            s["last_date"],
        ):
            con.print(line)
    else:
        for s in subjects:
            nad = s["nadir"]
            below = s["days"]["below_threshold"]
            line = (
                f"{_who(s)}: n={s['counts']} nadir {nad['value']:g} {nad['date']}"
                + (f" · <{s['days']['threshold']:g}: {below} d" if below is not None else "")
                + f" · recovery {_recovery(s['recovery'])}"
                + f" · {_direction(s['direction'])}"
            )
            if width >= NARROW:
                c = s["cycle"]
                line += " · cycle " + (
                    f"~{c['period_days']:g} d" if c["status"] == "cycle" else c["status"]
                )
            con.print(line)
        if subjects:
            con.print(f"{len(subjects)} subject(s). One subject's chart: --subject ID")
        else:
            con.print("No subject has a count to summarise: no count could be read (see errors)")
    con.print(_settings_line(data.get("settings") or {}))
    for note in data["notes"]:
        con.print(Text(inert_line(note), style="dim"))
    if data.get("overlay_entries"):
        con.print(
            Text("From your overlay: " + inert_line(", ".join(data["overlay_entries"])), "yellow")
        )
    _references(con, kb, data["references"])
    _disclaimer(con, kb)
