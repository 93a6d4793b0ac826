"""All Rich output lives here (the JSON path never imports this module).

Rich honours NO_COLOR and drops colour when stdout is not a terminal (--color overrides, see
render_console.py); below NARROW columns, or when an id or citation list would not fit whole
in its column, tables turn into stacked lists so output stays readable at 40 columns.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from .kb import KnowledgeBase
from .output import Answer
from .queries import citation_numbers
from .render_console import console
from .sanitize import inert, inert_tree

NARROW = 60
LINEAGE_SHORT = {"neutrophils": "neutro", "lymphocytes": "lympho", "all-leukocytes": "all WBC"}
SEVERITY_STYLE = {
    "normal": "green",
    "mild": "yellow",
    "moderate": "dark_orange",
    "severe": "bold red",
    "very severe": "bold red",
    "profound": "bold red",
}


def _prepared(answer: Answer):
    """(kb, data) with every string of the data made inert (control characters visible)."""
    return answer.kb, inert_tree(answer.data)


def _cites(kb: KnowledgeBase, ids: list[str]) -> str:
    nums = citation_numbers(kb, ids)
    return "[" + ", ".join(str(n) for n in nums) + "]" if nums else ""


def _disclaimer(con: Console, kb: KnowledgeBase, audience: str = "clinician") -> None:
    con.print(Text(inert(kb.disclaimer(audience)), style="dim italic"))


def _settings_line(settings: dict) -> Text:
    """'Settings: unit cells/uL (default) · ...': each setting used, with where it came from
    (assess and trend)."""
    used = " · ".join(
        f"{key.replace('_', ' ')} {s['value']} ({s['origin']})" for key, s in settings.items()
    )
    return Text("Settings: ", style="bold") + Text(used, style="dim")


def _references(con: Console, kb: KnowledgeBase, ids: list[str]) -> None:
    from .queries import references

    refs = sorted(references(kb, ids), key=lambda r: r["number"])
    if not refs:
        return
    con.print(Text("References", style="bold"))
    for r in refs:
        con.print(f"  [{r['number']}] " + inert(short_citation(r)))


def short_citation(r: dict) -> str:
    authors = r["authors"] or []
    who = authors[0] + (" et al." if len(authors) > 1 else "") if authors else ""
    parts = [p.rstrip(".") for p in (who, r["title"], f"{r['journal']} {r['year']}") if p]
    ids = []
    if r.get("pmid"):
        ids.append(f"PMID {r['pmid']}")
    if r.get("doi"):
        ids.append(f"doi:{r['doi']}")
    return ". ".join(parts) + "." + (" " + "; ".join(ids) if ids else "")


def causes(answer: Answer) -> None:
    kb, rows = _prepared(answer)
    con = console()
    names = {c["id"]: inert(c["name"]) for c in kb.table("categories")}
    if not rows:
        con.print("No matching causes.")
        _disclaimer(con, kb)
        return
    # Three columns, not five, and widths computed here rather than measured by Rich:
    # Rich's layout cost grows with cells, and this is the most-run human command (issue 7
    # start-up budget; measuring took about a third of the render time).
    titles = [c["name"] + (" *" if c.get("source") == "overlay" else "") for c in rows]
    details = [
        f"{c['category']} · "
        f"{', '.join(LINEAGE_SHORT.get(x, x) for x in c['lineages'])} · {c['course']}"
        for c in rows
    ]
    refs = [_cites(kb, c["references"]) for c in rows]
    ids = [c["id"] for c in rows]
    widths = None
    if con.width >= NARROW:
        widths = cause_table_widths(
            con.width,
            (max(map(len, ids + titles)), max(map(len, details)), max(map(len, refs))),
            (_longest_word(ids + titles), _longest_word(details), max(map(len, refs))),
        )
    if widths is None:  # narrow: stacked records, so no id or citation list is split
        for title, c in zip(titles, rows):
            con.print(Text(title, style="bold"))
            label = "  id: " if len(c["id"]) + 6 <= con.width else "  "
            con.print(Text(label) + Text(c["id"], style="cyan"))
            con.print(
                f"  {names.get(c['category'], c['category'])}; {', '.join(c['lineages'])}; "
                f"{c['course']} {_cites(kb, c['references'])}"
            )
    else:
        table = _table()
        for header, width in zip(("Cause (id)", "Details", "Refs"), widths):
            table.add_column(header, width=width, overflow="fold")  # wide enough for any id
        for title, c, detail, ref in zip(titles, rows, details, refs):
            cell = Text(title, style="bold")
            cell.append("\n" + c["id"], style="cyan")
            table.add_row(cell, detail, ref)
        con.print(table)
    if any(c.get("source") == "overlay" for c in rows):
        con.print("* from your personal overlay")
    con.print(Text(f"{len(rows)} cause(s). Details: leuko causes show ID", style="dim"))
    _disclaimer(con, kb)


TABLE_OVERHEAD = 6  # a three-column table without edges: cell padding and separators


def _table():
    # imported here: rich.table costs several ms and most answers draw no table
    from rich import box
    from rich.table import Table

    # no top or bottom edge: a piped table has no blank padding lines
    return Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, expand=False)


def _longest_word(texts: list[str]) -> int:
    from .layout import atoms

    return max((e - s for t in texts for s, e in atoms(t)), default=1)


def cause_table_widths(
    width: int, natural: tuple[int, int, int], least: tuple[int, int, int]
) -> list[int] | None:
    """Column widths (cause, details, refs) for the cause table, or None when even the least
    widths (the longest id, word and citation list, which are never split) do not fit.
    The content's own widths when they fit; otherwise refs keeps its width and the rest is
    shared about 5:4 between cause and details, each between its least and natural width."""
    room = width - TABLE_OVERHEAD
    natural = tuple(max(n, lo) for n, lo in zip(natural, least))
    if sum(natural) <= room:
        return list(natural)
    if sum(least) > room:
        return None
    refs = natural[2]
    rest = room - refs
    cause = min(max(rest * 5 // 9, least[0]), natural[0])
    details = rest - cause
    if details < least[1]:
        details = least[1]
        cause = rest - details
    return [cause, min(details, natural[1]), refs]


def cause_detail(answer: Answer) -> None:
    kb, c = _prepared(answer)
    audience = answer.audience
    con = console()
    cat = kb.get("categories", c["category"])
    con.print(Text(c["name"], style="bold"))
    origin = " (from your overlay)" if c.get("source") == "overlay" else ""
    category = inert(cat["name"]) if cat else c["category"]
    con.print(Text(f"{category} · {c['id']}{origin}", style="dim"))
    cites = _cites(kb, c["references"])
    if audience == "patient":
        con.print((c["patient_summary"]) + f" {cites}")
        _references(con, kb, c["references"])
        _disclaimer(con, kb, audience)
        return
    con.print((c["summary"]) + f" {cites}")
    con.print()
    for label, value in (
        ("Synonyms", ", ".join(c["synonyms"]) or "-"),
        ("Lineages", ", ".join(c["lineages"])),
        ("Mechanism", f"{c['mechanism']}: {c['mechanism_detail']}"),
        ("Course", c["course"]),
        ("Origin", c["origin"]),
        ("Reviewed", f"{c['last_reviewed']} ({c['review_status']})"),
    ):
        con.print(Text(f"{label}: ", style="bold") + Text(value))
    for label, items in (
        ("Clues", c["features"]),
        ("Workup", c["workup"]),
        ("Management", c["management"]),
    ):
        con.print(Text(label, style="bold"))
        for item in items:
            con.print("  • " + (item))
    _references(con, kb, c["references"])
    _disclaimer(con, kb)


def full_citation(r: dict) -> str:
    """Authors, title, journal, year;volume(issue):pages (identifiers go on their own lines)."""
    authors = [a for a in r["authors"] or [] if a.strip().lower() != "et al."]
    truncated = len(authors) < len(r["authors"] or [])
    who = ", ".join(authors) + (", et al." if truncated else ".") if authors else ""
    where = f"{r['journal'].rstrip('.')}. {r['year']}"
    if r.get("volume"):
        where += f";{r['volume']}" + (f"({r['issue']})" if r.get("issue") else "")
        where += f":{r['pages']}" if r.get("pages") else ""
    return " ".join(p for p in (who, r["title"].rstrip(".") + ".", where + ".") if p)


def references(answer: Answer) -> None:
    """`leuko refs`: each reference in full, then PMID, DOI and URL each labelled on a line
    of its own, so an identifier is never glued to volume or pages and is easy to copy."""
    refs = inert_tree(answer.data)
    con = console()
    for r in refs:
        pad = " " * (len(str(r["number"])) + 3)
        con.print(Text(f"[{r['number']}] ", style="bold") + Text(full_citation(r)))
        for label, key in (("PMID", "pmid"), ("DOI", "doi"), ("URL", "url")):
            if r.get(key):
                con.print(Text(f"{pad}{label}: ", style="dim") + Text(r[key]))
        status = f"verified {r['verified']}" if r["verified"] else "identifiers not verified"
        con.print(Text(f"{pad}{status}", style="dim"))
    con.print(
        Text(
            f"{len(refs)} reference(s); PMID/DOI shown only where confirmed against a record.",
            style="dim",
        )
    )


def assess(answer: Answer) -> None:
    from . import render_assess

    render_assess.assess(answer)


def sections(
    kb: KnowledgeBase,
    title: str,
    rows: list[dict],
    audience: str = "clinician",
    footnote: str | None = None,
) -> None:
    """Generic renderer for classify/workup/presentation-style content: each row has a title,
    a body, optional bullet items and references; the audience's disclaimer ends it."""
    con = console()
    con.print(Text(title, style="bold underline"))
    for row in rows:
        con.print()
        con.print(
            Text(row["title"], style="bold")
            + Text(" " + _cites(kb, row["references"]), style="dim")
        )
        if row.get("body"):
            con.print((row["body"]))
        for item in row.get("items") or []:
            con.print("  • " + (item))
    con.print()
    if footnote:
        con.print(footnote)
    _references(con, kb, sorted({i for row in rows for i in row["references"]}))
    _disclaimer(con, kb, audience)


def score(answer: Answer) -> None:
    kb, r = _prepared(answer)
    con = console()
    con.print(Text(r["name"], style="bold"))
    for item in r["items"]:
        mark = "x" if item["present"] else " "
        con.print(f"  [{mark}] {item['points']:>2g}  " + (item["text"]))
    style = "green" if r["risk"] == "low" else "bold red"
    con.print(
        Text(f"Score {r['points']:g} of {r['max']:g}: ", style="bold")
        + Text(f"{r['risk'].upper()} RISK", style=style)
        + Text(f" (low risk at {r['low_risk_min']:g} or more)", style="dim")
    )
    con.print((r["meaning"]) + " " + _cites(kb, r["references"]))
    con.print(Text(r["limits"], style="dim"))
    _references(con, kb, r["references"])
    _disclaimer(con, kb)


def key_values(title: str, rows: list[tuple[str, object]]) -> None:
    con = console()
    con.print(Text(title, style="bold"))
    for k, v in rows:
        con.print(Text(f"{k}: ", style="bold") + Text(inert("-" if v is None else v)))


def kb_info(answer: Answer) -> None:
    info = answer.data
    rows = [(k, v) for k, v in info.items() if not isinstance(v, dict)]
    rows += [(f"category {k}", v) for k, v in info["by_category"].items()]
    rows += [(f"review {k}", v) for k, v in info["by_review_status"].items()]
    key_values("Knowledge base", rows)


def classify(answer: Answer) -> None:
    kb, data = _prepared(answer)
    rows = [
        {
            "title": a["axis"],
            "body": a["summary"],
            "references": a["references"],
            "items": [f"{o['name']}: {o['description']}" for o in a["options"]],
        }
        for a in data["axes"]
    ]
    rows.append(
        {
            "title": "Severity scales",
            "body": None,
            "references": sorted({r for s in data["scales"] for r in s["references"]}),
            "items": [
                f"{s['name']} ({s['system']} {s['version']}): {s.get('definition')}"
                for s in data["scales"]
            ],
        }
    )
    sections(kb, "Classification of neutropenia", rows)


def workup(answer: Answer) -> None:
    kb, data = _prepared(answer)
    sections(
        kb,
        "Diagnostic workup",
        [
            {
                "title": f"{s['step']}. {s['title']}",
                "body": s["detail"],
                "items": s.get("items"),
                "references": s["references"],
            }
            for s in data["steps"]
        ],
    )


def manage(answer: Answer) -> None:
    kb, data = _prepared(answer)
    key = "patient_summary" if answer.audience == "patient" else "summary"
    rows = [
        {"title": p["name"], "body": p[key], "references": p["references"]}
        for p in data["presentation"]
    ]
    rows += [
        {
            "title": m["topic"],
            "body": m[key],
            "references": m["references"],
            "items": None if answer.audience == "patient" else m.get("items"),
        }
        for m in data["management"]
    ]
    sections(kb, "Presentation and management", rows, answer.audience)


def scales(answer: Answer) -> None:
    kb, rows = _prepared(answer)
    sections(
        kb,
        "Grading scales",
        [
            {
                "title": f"{s['name']} ({s['system']} {s['version']})"
                + (" *" if s.get("source") == "overlay" else ""),
                "body": s.get("definition"),
                "references": s["references"],
                "items": [f"{b['label']}: {_band_text(b)}" for b in s["bands"]],
            }
            for s in rows
        ],
        footnote=_overlay_footnote(rows),
    )


def _overlay_footnote(rows: list[dict]) -> str | None:
    """The marker's meaning and each overlay entry's FILE:LINE, when any row is marked."""
    where = [r.get("origin") or r["id"] for r in rows if r.get("source") == "overlay"]
    return "* from your personal overlay: " + ", ".join(where) if where else None


def _band_text(b: dict) -> str:
    lo, hi = b["lower"], b.get("upper")
    if hi is None:
        return f">= {lo}"
    return f"{lo} to < {hi}" if lo else f"< {hi}"


# --- search (issue 6) -----------------------------------------------------------------------


NOT_FOUND = (
    "Not finding a drug or condition here does not mean it is not a cause of neutropenia or "
    "leukopenia: the knowledge base is not complete. Check the product label or a drug "
    "reference."
)


def search_results(answer: Answer) -> None:
    kb, results = _prepared(answer)
    query = inert(answer.context.get("query", ""))
    terms = [inert(t) for t in answer.context.get("terms", [])]
    con = console()
    if not results:
        con.print(f"No matches for {query!r} in the knowledge base.")
        con.print(NOT_FOUND)
        _disclaimer(con, kb)
        return
    if terms and " ".join(terms) != " ".join(query.casefold().split()):
        con.print(Text(f"Searched for: {' '.join(terms)}", style="dim"))
    for n, r in enumerate(results, start=1):
        line = Text(f"{n}. ", style="bold") + Text(r["title"], style="bold")
        line.append(f"  ({r['kind'].replace('_', ' ')})", style="dim")
        con.print(line)
        if r.get("snippet"):
            con.print(Text("   " + r["snippet"]))
        con.print(Text("   open: ", style="dim") + Text(r["command"], style="cyan"))
    con.print(Text(f"{len(results)} result(s), best first.", style="dim"))
    _disclaimer(con, kb)


def meds(answer: Answer) -> None:
    """`leuko meds`: one block per drug asked about; absent names said to be absent."""
    kb, data = _prepared(answer)
    con = console()
    for res in data["results"]:
        if not res["found"]:
            con.print(Text(res["query"], style="bold"))
            con.print(f"  {res['status']}")
            if res["did_you_mean"]:
                con.print(f"  did you mean: {', '.join(res['did_you_mean'])}")
            continue
        for e in res["entries"]:
            con.print(Text(f"{e['drug']} ({e['cause_name']})", style="bold"))
            for label, value in (
                ("Linked to", ", ".join(e["linked_to"])),
                ("Mechanism", e["mechanism_text"]),
                ("Onset", e["onset"]),
                ("How often", e["frequency"]),
                ("Monitoring", e["monitoring"]),
            ):
                con.print(f"  {label}: {value}")
            for t in e["region_monitoring"]:
                cites = _cites(kb, t["references"])
                con.print(f"  {t['region']} · {t['name']}: {t['schedule']} {cites}".rstrip())
            con.print(
                Text(
                    f"  Refs {_cites(kb, e['references'])} · leuko causes show {e['cause']}"
                    + (" · draft, not yet second-read" if e["review_status"] == "draft" else ""),
                    style="dim",
                )
            )
    con.print(Text(f"{data['found']} found, {data['not_found']} not in the knowledge base."))
    region = data["region"]
    con.print(Text(f"Region: {region['value']} ({region['origin']})", style="dim"))
    _references(con, kb, data["references"])
    _disclaimer(con, kb)


def trend(answer: Answer) -> None:
    """`leuko trend`: its own module (render_trend.py) keeps this one within bounds."""
    from .render_trend import trend as draw

    draw(answer)
