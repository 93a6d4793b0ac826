"""`leuko refs --format`: the knowledge base's references as BibTeX, RIS or CSL-JSON.

Pure Python (no Typer, no Rich). Input is the list `queries.references` returns. Identifiers
(DOI, PMID, URL) are written only where the knowledge base has them.
"""

from __future__ import annotations

import json
import re

from .sanitize import escape_json_unsafe, inert, inert_line

FORMATS = ("text", "json", "tsv", "bibtex", "ris", "csl-json")
JOURNAL_KINDS = {"article", "review", "case-report"}
_INITIALS = re.compile(r"^[A-Z\u00C0-\u00DE]{1,4}$")
ET_AL = "et al."


def split_author(name: str) -> tuple[str, str | None]:
    """'Freifeld AG' -> ('Freifeld', 'A. G.'); 'Virizuela Echaburu J' -> ('Virizuela Echaburu',
    'J.'); a name without trailing initials -> (name, None)."""
    parts = name.split()
    if len(parts) > 1 and _INITIALS.match(parts[-1]):
        return " ".join(parts[:-1]), " ".join(f"{c}." for c in parts[-1])
    return name, None


def _authors(ref: dict) -> tuple[list[tuple[str, str | None]], bool]:
    names = ref.get("authors") or []
    truncated = bool(names) and names[-1].strip().lower() == ET_AL
    return [split_author(a) for a in names if a.strip().lower() != ET_AL], truncated


def _is_journal(ref: dict) -> bool:
    """A journal article: an article-like kind, or a guideline published in a journal volume."""
    return ref.get("kind") in JOURNAL_KINDS or (
        ref.get("kind") == "guideline" and bool(ref.get("volume"))
    )


def _pages(ref: dict) -> tuple[str | None, str | None]:
    pages = ref.get("pages")
    if not pages:
        return None, None
    first, _, last = pages.replace("\u2013", "-").partition("-")
    return first.strip() or None, last.strip() or None


# --- BibTeX -----------------------------------------------------------------------------------

_BIB_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def bib_escape(text: str) -> str:
    """TeX-escaped, after control characters are made visible (an overlay's text is from
    outside: ESC [2J in a title must not clear the screen of whoever prints the export)."""
    return "".join(_BIB_SPECIAL.get(ch, ch) for ch in inert(text))


def _bib_key(ident: str) -> str:
    return re.sub(r"[^A-Za-z0-9_:.-]", "-", ident)


def bibtex_entry(ref: dict) -> str:
    people, truncated = _authors(ref)
    journal = _is_journal(ref)
    kind = "article" if journal else "misc"
    fields: list[tuple[str, str]] = []
    if people:
        names = [
            bib_escape(f"{fam}, {giv}" if giv else fam) if giv else "{" + bib_escape(fam) + "}"
            for fam, giv in people
        ]
        if truncated:
            names.append("others")
        fields.append(("author", " and ".join(names)))
    fields.append(("title", "{" + bib_escape(ref["title"]) + "}"))  # keep capitalisation
    fields.append(("journal" if journal else "howpublished", bib_escape(ref["journal"])))
    fields.append(("year", str(ref["year"])))
    for key in ("volume", "issue"):
        if ref.get(key):
            fields.append(("number" if key == "issue" else key, bib_escape(ref[key])))
    if ref.get("pages"):
        first, last = _pages(ref)
        fields.append(("pages", bib_escape(f"{first}--{last}" if last else first or "")))
    if ref.get("doi"):
        fields.append(("doi", inert_line(ref["doi"])))  # verbatim field: no TeX escaping
    if ref.get("pmid"):
        fields.append(("pmid", inert_line(ref["pmid"])))
    if ref.get("url"):
        fields.append(("url", inert_line(ref["url"])))  # verbatim in biblatex/url.sty
    if ref.get("kind"):
        fields.append(("keywords", bib_escape(ref["kind"])))
    body = ",\n".join(f"  {k} = {{{v}}}" for k, v in fields)
    return f"@{kind}{{{_bib_key(ref['id'])},\n{body}\n}}\n"


def bibtex(refs: list[dict]) -> str:
    return "\n".join(bibtex_entry(r) for r in refs)


# --- RIS --------------------------------------------------------------------------------------

_RIS_TYPES = {
    "standard": "STAND",
    "web": "ELEC",
    "book": "BOOK",
    "label": "GEN",
    "guideline": "GEN",
}


def ris_entry(ref: dict) -> str:
    people, truncated = _authors(ref)
    ty = "JOUR" if _is_journal(ref) else _RIS_TYPES.get(ref.get("kind"), "GEN")
    lines = [("TY", ty)]
    lines += [("AU", f"{fam}, {giv}" if giv else fam) for fam, giv in people]
    lines.append(("TI", ref["title"]))
    lines.append(("JO" if ty == "JOUR" else "PB", ref["journal"]))
    lines.append(("PY", str(ref["year"])))
    for tag, key in (("VL", "volume"), ("IS", "issue")):
        if ref.get(key):
            lines.append((tag, ref[key]))
    first, last = _pages(ref)
    if first:
        lines.append(("SP", first))
    if last:
        lines.append(("EP", last))
    if ref.get("doi"):
        lines.append(("DO", ref["doi"]))
    if ref.get("url"):
        lines.append(("UR", ref["url"]))
    if ref.get("pmid"):
        lines.append(("AN", f"PMID:{ref['pmid']}"))
    if truncated:
        lines.append(("N1", "Author list truncated (et al.)"))
    lines.append(("ID", ref["id"]))
    # RIS lines are "TAG  - value"; a value never spans lines
    text = "".join(f"{tag}  - {inert(' '.join(str(v).split()))}\n" for tag, v in lines)
    return text + "ER  - \n"


def ris(refs: list[dict]) -> str:
    return "\n".join(ris_entry(r) for r in refs)


# --- CSL-JSON ---------------------------------------------------------------------------------

_CSL_TYPES = {
    "standard": "standard",
    "web": "webpage",
    "book": "book",
    "label": "document",
    "guideline": "report",
}


def csl_item(ref: dict) -> dict:
    people, _truncated = _authors(ref)
    journal = _is_journal(ref)
    item: dict = {
        "id": ref["id"],
        "type": "article-journal" if journal else _CSL_TYPES.get(ref.get("kind"), "document"),
        "title": ref["title"],
    }
    if people:
        item["author"] = [
            {"family": fam, "given": giv} if giv else {"literal": fam} for fam, giv in people
        ]
    item["container-title" if journal else "publisher"] = ref["journal"]
    item["issued"] = {"date-parts": [[ref["year"]]]}
    for key in ("volume", "issue"):
        if ref.get(key):
            item[key] = ref[key]
    if ref.get("pages"):
        item["page"] = ref["pages"]
    if ref.get("doi"):
        item["DOI"] = ref["doi"]
    if ref.get("pmid"):
        item["PMID"] = ref["pmid"]
    if ref.get("url"):
        item["URL"] = ref["url"]
    return item


def csl_json(refs: list[dict]) -> str:
    text = json.dumps([csl_item(r) for r in refs], indent=2, ensure_ascii=False)
    return escape_json_unsafe(text) + "\n"  # C1 and bidi controls as \uXXXX, as --json does


def export(refs: list[dict], fmt: str) -> str:
    """bibtex, ris or csl-json text (text/json are printed by the CLI)."""
    if fmt == "bibtex":
        return bibtex(refs)
    if fmt == "ris":
        return ris(refs)
    if fmt == "csl-json":
        return csl_json(refs)
    raise ValueError(fmt)
