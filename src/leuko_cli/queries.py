"""Read-only queries over the knowledge base (pure Python): filter causes, resolve citations,
build the JSON-ready views that the CLI prints or renders."""

from __future__ import annotations

from .errors import InputError, check_choice, not_empty
from .kb import LINEAGES, SCHEMA, KnowledgeBase
from .kb import fold as _fold

# every field of the schema, in its order, then where the entry came from
CAUSE_FIELDS = [*SCHEMA["causes"], "source"]


def category_words(kb: KnowledgeBase) -> dict[str, str]:
    """Folded id, name and every alias -> category id (the words `--category` accepts)."""
    words: dict[str, str] = {}
    for c in kb.table("categories"):
        for word in (c["id"], c["name"], *(c.get("aliases") or [])):
            words.setdefault(_fold(word), c["id"])
    return words


def check_category(kb: KnowledgeBase, category: str) -> str:
    words = category_words(kb)
    wanted = _fold(category)
    if wanted in words:
        return words[wanted]
    import difflib

    # nearest words first, each shown with the category it means
    near = difflib.get_close_matches(wanted, list(words), n=4, cutoff=0.6)
    ids = [c["id"] for c in kb.table("categories")]
    hint = (
        "did you mean: " + ", ".join(f"{w} ({words[w]})" if w != words[w] else w for w in near)
        if near
        else "use one of: " + ", ".join(ids)
    )
    raise InputError(f"unknown category {category!r}; {hint}")


def check_lineage(lineage: str) -> str:
    wanted = lineage.strip().lower()
    check_choice("lineage", wanted, LINEAGES, shown=lineage)
    return wanted


def find_causes(
    kb: KnowledgeBase,
    category: str | None = None,
    search: str | None = None,
    lineage: str | None = None,
) -> list[dict]:
    """Causes filtered by category and lineage; with `search`, exact id/name/synonym matches
    first, then partial matches in a name or the summary (case- and hyphen-insensitive)."""
    for option, value in (("--category", category), ("--search", search), ("--lineage", lineage)):
        not_empty(option, value)
    if search is not None and not _fold(search):
        raise InputError(
            f"--search {search!r} has nothing to match (hyphens and spaces are ignored); "
            "give a word, e.g. --search kostmann"
        )
    found = kb.match_causes(
        category=check_category(kb, category) if category else None,
        lineage=check_lineage(lineage) if lineage else None,
        needle=_fold(search) if search else None,
    )
    return [cause_view(c) for c in found]


def cause_view(cause: dict) -> dict:
    return {k: cause.get(k) for k in CAUSE_FIELDS}


def get_cause(kb: KnowledgeBase, ident: str) -> dict:
    if not _fold(ident):  # '', ' ' or '-': no id to look up
        raise InputError(
            "give a cause id, e.g. leuko causes show clozapine (`leuko causes` lists them)"
        )
    cause = kb.get("causes", ident.strip().lower())
    if cause is None:
        found = find_causes(kb, search=ident)
        if len(found) == 1 or (
            found and _fold(ident) in [_fold(s) for s in [found[0]["name"], *found[0]["synonyms"]]]
        ):
            return found[0]
        hint = (
            f"; did you mean: {', '.join(c['id'] for c in found[:5])}"
            if found
            else "; list ids with `leuko causes`"
        )
        raise InputError(f"no cause with id {ident!r}{hint}")
    return cause_view(cause)


def reference_view(ref: dict, number: int) -> dict:
    return {
        "number": number,
        **{
            k: ref.get(k)
            for k in (
                "id",
                "kind",
                "authors",
                "title",
                "journal",
                "year",
                "volume",
                "issue",
                "pages",
                "pmid",
                "doi",
                "url",
                "verified",
                "verification",
            )
        },
        "source": ref.get("source"),
    }


def references(kb: KnowledgeBase, ids: list[str] | None = None) -> list[dict]:
    numbers = kb.reference_numbers()
    refs = kb.table("references")
    if ids is not None:
        wanted = set(ids)
        refs = [r for r in refs if r["id"] in wanted]
    return [reference_view(r, numbers[r["id"]]) for r in refs]


def citation_numbers(kb: KnowledgeBase, ids: list[str]) -> list[int]:
    numbers = kb.reference_numbers()
    return sorted(numbers[i] for i in ids if i in numbers)


def scales(kb: KnowledgeBase) -> list[dict]:
    return [
        {
            k: s.get(k)
            for k in (
                "id",
                "name",
                "system",
                "version",
                "term",
                "measure",
                "unit",
                "definition",
                "note",
                "references",
                "bands",
            )
        }
        | {"source": s.get("source") or "bundled", "origin": s.get("source_location")}
        for s in kb.table("scales")
    ]


def kb_info(kb: KnowledgeBase) -> dict:
    by_category: dict[str, int] = {c["id"]: 0 for c in kb.table("categories")}
    by_status: dict[str, int] = {}
    for c in kb.table("causes"):
        by_category[c["category"]] = by_category.get(c["category"], 0) + 1
        by_status[c["review_status"]] = by_status.get(c["review_status"], 0) + 1
    refs = kb.table("references")
    return {
        "version": kb.meta["version"],
        "last_updated": kb.meta["last_updated"],
        "schema": kb.meta["schema"],
        "causes": len(kb.table("causes")),
        "references": len(refs),
        "references_verified": sum(1 for r in refs if r["verified"]),
        "pmids": sum(1 for r in refs if r.get("pmid")),
        "dois": sum(1 for r in refs if r.get("doi")),
        "scales": len(kb.table("scales")),
        "by_category": by_category,
        "by_review_status": by_status,
        # a reviewed/verified status is only as good as its record (kb check enforces one)
        "with_review_record": sum(1 for c in kb.table("causes") if c.get("review")),
        "overlay_path": str(kb.overlay_path) if kb.overlay_path else None,
        "overlay_status": kb.overlay_status,
    }
