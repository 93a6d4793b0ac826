"""`--format tsv`: table-shaped answers as one tab-separated line per row, with a header line,
so grep, cut and sort work line by line. Values never hold a tab or a newline (each becomes a
space); lists are joined with ", ". Pure Python: no Rich."""

from __future__ import annotations

from .output import Answer


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    return " ".join(str(value).replace("\t", " ").split())


def lines(header: list[str], rows: list[list]) -> list[str]:
    return ["\t".join(header)] + ["\t".join(_cell(v) for v in row) for row in rows]


def _causes(answer: Answer) -> list[str]:
    from .queries import citation_numbers

    kb = answer.kb
    return lines(
        ["id", "name", "category", "lineages", "course", "refs"],
        [
            [
                c["id"],
                c["name"],
                c["category"],
                c["lineages"],
                c["course"],
                [str(n) for n in citation_numbers(kb, c["references"])],
            ]
            for c in answer.data
        ],
    )


def _search(answer: Answer) -> list[str]:
    return lines(
        ["rank", "kind", "id", "title", "score", "command"],
        [
            [n, r["kind"], r["id"], r["title"], r["score"], r["command"]]
            for n, r in enumerate(answer.data, start=1)
        ],
    )


def _references(answer: Answer) -> list[str]:
    keys = ["number", "id", "authors", "title", "journal", "year", "volume", "issue", "pages"]
    keys += ["pmid", "doi", "url", "verified"]
    return lines(keys, [[r.get(k) for k in keys] for r in answer.data])


_BY_VIEW = {"causes": _causes, "search_results": _search, "references": _references}


def answer(original: Answer) -> Answer:
    """The same answer (data and exit code) printed as TSV lines."""
    text = _BY_VIEW[original.view](original)
    return Answer("lines", original.data, original.kb, exit_code=original.exit_code, lines=text)
