"""Where a knowledge-base problem is: line numbers of entries and fields in the TOML text, for
`FILE:LINE` in messages (validation.py says what is wrong; this says where). Lines end at
"\n" only, as TOML's do (str.splitlines would also end one at a form feed or U+2028)."""

from __future__ import annotations

import re


def line_of(text: str, table: str, ident: str | None) -> int | None:
    """Best-effort line number of an entry (`id = "..."` after `[[table]]`), for messages."""
    if not ident:
        return None
    lines = text.split("\n")
    in_table = False
    for n, line in enumerate(lines, start=1):
        s = line.strip()
        if s.startswith("[["):
            in_table = s == f"[[{table}]]"
        elif in_table and re.match(rf"""id\s*=\s*["']{re.escape(ident)}["']\s*(#.*)?$""", s):
            return n
    return None


def locate_problems(problems: list[str], text: str, path: str) -> list[str]:
    """Prefix each problem with `path:line:` where the entry can be found in the text."""
    out = []
    for p in problems:
        m = re.match(r"(\w+)\['([^']+)'\](?:\.(\w+)\b(?!\[))?", p)
        line = line_of(text, m.group(1), m.group(2)) if m else None
        if not m:  # an entry without a usable id: `table[#N]` is the Nth [[table]] header
            n = re.match(r"(\w+)\[#(\d+)\]", p)
            line = nth_header(text, n.group(1), int(n.group(2))) if n else None
        unknown = re.search(r"unknown field '(\w+)'", p) if m and not m.group(3) else None
        name = m.group(3) if m else None
        if line and (name or unknown):
            line = field_line(text, line, name or unknown.group(1)) or line
        out.append(f"{path}:{line}: {p}" if line else f"{path}: {p}")
    return out


def nth_header(text: str, table: str, index: int) -> int | None:
    """Line of the index-th (1-based) `[[table]]` header."""
    seen = 0
    for n, line in enumerate(text.split("\n"), start=1):
        if re.match(rf"\s*\[\[\s*{re.escape(table)}\s*\]\]", line):
            seen += 1
            if seen == index:
                return n
    return None


def field_line(text: str, id_line: int, name: str) -> int | None:
    """The line of `name = ...` in the entry whose `id` is on `id_line` (same table block)."""
    lines = text.split("\n")
    start = id_line - 1
    while start > 0 and not lines[start - 1].lstrip().startswith("["):
        start -= 1
    end = id_line
    while end < len(lines) and not lines[end].lstrip().startswith("["):
        end += 1
    pattern = re.compile(rf"""^\s*(["']?){re.escape(name)}\1\s*=""")
    for n in range(start, end):
        if pattern.match(lines[n]):
            return n + 1
    return None


_HEADER = r"""\s*\[(\[)?\s*([A-Za-z0-9_-]+)\s*\]"""
_ID_LINE = r"""\s*id\s*=\s*["']([^"']*)["']\s*(#.*)?$"""
_KEY_LINE = r"""\s*(["']?)([A-Za-z0-9_-]+)\1\s*="""


def entry_lines(text: str) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    """In one pass over a TOML file: the line of each entry's `id = "..."` keyed by
    (table, id), and the line of each key in `[settings]`. `line_of` per entry would rescan the
    file each time, which for a 5,000-entry overlay is quadratic. Best effort, like line_of."""
    header_re, id_re, key_re = re.compile(_HEADER), re.compile(_ID_LINE), re.compile(_KEY_LINE)
    ids: dict[tuple[str, str], int] = {}
    settings: dict[str, int] = {}
    table, in_array = None, False
    for n, line in enumerate(text.split("\n"), start=1):
        header = header_re.match(line)
        if header:
            table, in_array = header.group(2), bool(header.group(1))
            continue
        if in_array:
            found = id_re.match(line)
            if found:
                ids.setdefault((table, found.group(1)), n)
        elif table == "settings":
            key = key_re.match(line)
            if key:
                settings.setdefault(key.group(2), n)
    return ids, settings
