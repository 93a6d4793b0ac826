"""Regenerate docs/sources.md from the knowledge base (checked by tests/test_docs.py).

    python docs/generate.py  (this page is one of its parts)

Every reference, what cites it in the KB, its identifiers and how they were verified.
"""

from __future__ import annotations

import sys
from pathlib import Path

OUT = Path(__file__).with_name("sources.md")

HEADER = """# Sources

Generated from `data/causes.toml` by `python docs/generate.py`; `tests/test_docs.py` fails when
it is out of date. The numbers are the citation numbers leuko prints.

**How identifiers were verified.** A PMID or DOI appears only where it was seen, on 2026-11-22,
with a matching title and authors on a PubMed or PMC page (or a verbatim PubMed mirror), a
publisher page or publisher-typeset PDF, or a Crossref-derived record. Identifiers seen only in
library catalogues, citation strings or addresses were left out and are named in the reference's
verification note instead. `verified` is the date of that check, or `false` where the bibliographic
facts or identifiers could not be confirmed.

**The seed articles.** The two Q&A articles the product grew from (shared/seeds) were marked
"pending human review" and cited four numbered references while using five citation numbers; in
the second article the footnotes after the first appear shifted by one. leuko therefore cites
familial Mediterranean fever to the paper that reports episodic leukopenia in FMF (Aslan 2014), not
to the Duodecim 2011 article, and cites Lam 2019 for the transient/chronic and extrinsic/intrinsic
framing. Nothing could be confirmed about Duodecim 2011 beyond its title, journal and year.

**Review status of the content.** Every cause records `last_reviewed` and `review_status`
(`draft` = written from the cited sources, not yet checked against them by a second reader;
`reviewed` = checked; `verified` = checked and its sources' identifiers confirmed). `leuko kb info`
counts them.
"""


def render() -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from leuko_cli import kb as kbmod

    kb = kbmod.load(overlay=False, use_cache=False)
    cited: dict[str, list[str]] = {}
    for table in kbmod.TABLES:
        for entry in kb.table(table):
            for ref in entry.get("references") or []:
                label = (
                    entry.get("name")
                    or entry.get("title")
                    or entry.get("topic")
                    or entry.get("axis")
                    or entry["id"]
                )
                cited.setdefault(ref, []).append(f"{table}: {label}")
    lines = [HEADER]
    numbers = kb.reference_numbers()
    for ref in kb.table("references"):
        authors = ", ".join(ref["authors"]) or "(authors unknown)"
        where = " ".join(
            x
            for x in (
                ref.get("volume")
                and f"{ref['volume']}" + (f"({ref['issue']})" if ref.get("issue") else ""),
                ref.get("pages") and f":{ref['pages']}",
            )
            if x
        )
        lines.append(f"## [{numbers[ref['id']]}] `{ref['id']}`\n")
        lines.append(
            f"{authors}. *{ref['title']}*. {ref['journal']} {ref['year']}"
            f"{(';' + where) if where else ''}.\n"
        )
        ids = [
            f"PMID {ref['pmid']}" if ref.get("pmid") else "no PMID",
            f"DOI {ref['doi']}" if ref.get("doi") else "no DOI",
        ]
        status = f"verified {ref['verified']}" if ref["verified"] else "not verified"
        lines.append(f"- Identifiers: {', '.join(ids)}; {status}.")
        if ref.get("url"):
            lines.append(f"- Address: <{ref['url']}>")
        if ref.get("verification"):
            lines.append(f"- How: {ref['verification']}")
        supports = cited.get(ref["id"], [])
        lines.append(
            f"- Supports ({len(supports)}): "
            + ("; ".join(supports) if supports else "not cited by any entry yet")
        )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    OUT.write_text(render(), "utf-8")
    print(f"wrote {OUT}", file=sys.stderr)
