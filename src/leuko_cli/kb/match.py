"""The cause index behind `match_causes` (`leuko causes --search/--category/--lineage`).

One bytes row per cause:
    id RS category RS US lineage US lineage US RS UNIT name UNIT synonym UNIT RS summary
with names and summary folded (fold()). The separators (RS \\x1e, US \\x1d, UNIT \\x1f) are
whitespace to str.split(), so folded text cannot contain them, and validate() keeps them out
of ids; a category and a lineage come from fixed lists. A substring test on a row is therefore
an exact test on one field, and a few C-level `bytes.find` calls over all rows replace a Python
test per cause: well under a millisecond for 5,000 causes.

The store keeps these rows as one checked value (store.py says why not a WHERE clause); an
in-memory KB builds them from its causes.
"""

from __future__ import annotations

_RS, _US, _UNIT = "\x1e", "\x1d", "\x1f"


def fold(text: str) -> str:
    """Case- and hyphen-insensitive form used to match cause names and search text."""
    return " ".join(text.casefold().replace("-", " ").split())


def index_row(cause: dict) -> bytes:
    names = _UNIT.join(
        [fold(cause["id"]), fold(cause["name"]), *(fold(s) for s in cause["synonyms"])]
    )
    return _RS.join(
        [
            cause["id"],
            cause["category"],
            _US + _US.join(cause["lineages"]) + _US,
            _UNIT + names + _UNIT,
            fold(cause["summary"]),
        ]
    ).encode()


def index_text(causes: list[dict]) -> bytes:
    return b"".join(index_row(c) + b"\n" for c in causes)


def _has_separator(*texts: str | None) -> bool:
    """True when a query term holds an index separator or newline: it cannot occur inside a
    field, and would otherwise match across one. Also for a lone surrogate (an argument whose
    bytes were not UTF-8): no KB text holds one, and it cannot be encoded to look."""
    if any(ch in (text or "") for text in texts for ch in (_RS, _US, _UNIT, "\n")):
        return True
    return any(not t.isascii() and any(0xD800 <= ord(c) <= 0xDFFF for c in t) for t in texts if t)


def position_of(text: bytes, ident: str) -> int | None:
    """Position of the cause with this id (ids are unique and lead their row)."""
    if _has_separator(ident):
        return None
    key = f"{ident}{_RS}".encode()
    if text.startswith(key):
        return 0
    at = text.find(b"\n" + key)
    return None if at == -1 else text.count(b"\n", 0, at + 1)


def _rows_containing(text: bytes, probe: bytes) -> list[tuple[int, bytes]]:
    """(position, row) of each row containing `probe` (not empty, no newline)."""
    found = []
    position, counted = 0, 0
    at = text.find(probe)
    while at != -1:
        start = text.rfind(b"\n", 0, at) + 1
        end = text.find(b"\n", at)
        position += text.count(b"\n", counted, start)
        counted = start
        found.append((position, text[start:end]))
        at = text.find(probe, end)
    return found


def match(text: bytes, category: str | None, lineage: str | None, needle: str | None) -> list[int]:
    """Positions of the matching causes: filtered by category and lineage (all-leukocytes
    matches every lineage); with a folded needle, exact id/name/synonym matches first, then
    those where it occurs in a name or the summary; KB order within each group."""
    if _has_separator(category, lineage, needle):
        return []
    cat = f"{_RS}{category}{_RS}".encode() if category else None
    lin = f"{_US}{lineage}{_US}".encode() if lineage else None
    every = f"{_US}all-leukocytes{_US}".encode()
    word = needle.encode() if needle is not None else None
    whole = f"{_UNIT}{needle}{_UNIT}".encode() if needle is not None else None
    names_start = f"{_RS}{_UNIT}".encode()
    probe = word or cat  # the most selective filter present: only rows holding it are tested
    candidates = _rows_containing(text, probe) if probe else enumerate(text.split(b"\n")[:-1])
    exact: list[int] = []
    partial: list[int] = []
    for i, row in candidates:
        if cat is not None and cat not in row:
            continue
        if lin is not None and lin not in row and every not in row:
            continue
        if word is None or whole in row:
            exact.append(i)
        elif row.find(word, row.find(names_start)) != -1:
            partial.append(i)
    return exact + partial
