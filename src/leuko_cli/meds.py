"""`leuko meds`: what the knowledge base says about each drug named (pure Python).

Driven by the drug causes' fields (`drugs`, `drug_effects`, `drug_mechanism`, `onset`,
`frequency`, `monitoring`): a drug is never described from anywhere but a cited KB entry, and a
name the KB does not hold is reported as absent, never as safe.
"""

from __future__ import annotations

from .errors import InputError
from .kb import fold

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from .kb import KnowledgeBase

NOT_IN_KB = "not in the knowledge base: absence here does not mean the drug is safe"
MECHANISM_TEXT = {
    "dose-dependent": "dose-dependent marrow toxicity",
    "idiosyncratic": "idiosyncratic (immune or toxic) reaction, not dose-related",
    "both": "dose-dependent suppression and rare idiosyncratic reactions",
    "redistribution": "lymphocytes shift out of the blood (redistribution), not marrow damage",
    "expected": "an expected effect of the treatment; the sources do not relate it to dose",
    "unclassified": "the sources read do not say how",
}
MAX_NAMES = 200  # a medication list, not a formulary


def drug_index(kb: KnowledgeBase) -> dict[str, list[tuple[str, dict]]]:
    """Folded drug name or brand -> [(name as the KB writes it, drug cause), ...]."""
    index: dict[str, list[tuple[str, dict]]] = {}
    for cause in kb.table("causes"):
        for name in cause.get("drugs") or []:
            index.setdefault(fold(name), []).append((name, cause))
    return index


def read_names(names: list[str], file_text: str | None = None) -> list[str]:
    """The names asked about: arguments, then the file's lines (blank lines and # comments
    skipped); each stripped, duplicates (ignoring case) dropped, order kept."""
    for n, name in enumerate(names, start=1):
        if not name.strip():  # `leuko meds clozapine "$DRUG2"` with DRUG2 unset
            raise InputError(f"drug name {n} is empty; give a name, or leave it out")
    wanted = list(names)
    if file_text is not None:
        for line in file_text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                wanted.append(line)
    seen: set[str] = set()
    out = []
    for name in (n.strip() for n in wanted):
        if name and fold(name) not in seen:
            seen.add(fold(name))
            out.append(name)
    if not out:
        raise InputError("name at least one drug, e.g. `leuko meds ceftriaxone`, or --file FILE")
    if len(out) > MAX_NAMES:
        raise InputError(f"at most {MAX_NAMES} drugs at a time (got {len(out)}); split the list")
    return out


def _region_tables(kb: KnowledgeBase, cause: dict, region: str) -> list[dict]:
    """The monitoring tables of `region` for any name of this drug cause (each country's
    scheme is its own KB entry with its source: `--region` chooses)."""
    names = {fold(n) for n in cause.get("drugs") or []}
    return [
        {
            "table": t["id"],
            "name": t["name"],
            "region": t["region"],
            "population": t["population"],
            "schedule": t["schedule"],
            "status": t["status"],
            "references": list(t["references"]),
        }
        for t in kb.table("drug_monitoring")
        if t["region"] == region and names & {fold(t["drug"]), *map(fold, t["synonyms"])}
    ]


def _entry(kb: KnowledgeBase, name: str, cause: dict, region: str) -> dict:
    return {
        "drug": name,
        "cause": cause["id"],
        "cause_name": cause["name"],
        "linked_to": list(cause["drug_effects"]),
        "mechanism": cause["drug_mechanism"],
        "mechanism_text": MECHANISM_TEXT[cause["drug_mechanism"]],
        "onset": cause["onset"],
        "frequency": cause["frequency"],
        "monitoring": cause["monitoring"],
        "references": list(cause["references"]),
        "review_status": cause["review_status"],
        "region_monitoring": _region_tables(kb, cause, region),
    }


def _named_inside(asked: str, index: dict) -> list[str]:
    """KB drug names that appear as whole words inside a longer name ('clozapine, carbamazepine',
    'clozapine 100 mg daily'), in the order they appear: suggested, never assumed."""
    import re

    words = " " + " ".join(re.split(r"[\W_]+", fold(asked))) + " "
    found = [(words.find(f" {w} "), w) for w in index if len(w) >= 4 and f" {w} " in words]
    return [w for _, w in sorted(found)][:5]


def look_up(kb: KnowledgeBase, names: list[str], region: str | None = None) -> list[dict]:
    """One result per name: `found` with the KB's entries for it (and the monitoring tables of
    `region`), or absent with the nearest KB names as suggestions (difflib: typos such as
    'ceftriaxon'). Without a region, the KB's default one."""
    import difflib

    region = region or kb.settings["default_region"]

    index = drug_index(kb)
    results = []
    for asked in names:
        hits = index.get(fold(asked), [])
        if hits:
            results.append(
                {
                    "query": asked,
                    "found": True,
                    "entries": [_entry(kb, n, c, region) for n, c in hits],
                }
            )
            continue
        near = difflib.get_close_matches(fold(asked), list(index), n=3, cutoff=0.75)
        near += [w for w in _named_inside(asked, index) if w not in near]
        results.append(
            {
                "query": asked,
                "found": False,
                "status": NOT_IN_KB,
                "did_you_mean": [index[w][0][0] for w in near],
                "entries": [],
            }
        )
    return results
