"""Incremental rebuild: each KB entry is parsed, validated and indexed once per content.

Issue 18 asks that an edit to a 5,000-cause overlay be picked up within 0.5 s. Parsing the
whole file with tomllib alone takes longer, so a file is cut at its `[[table]]` header lines
into a preamble (meta, settings) and one piece per entry, and what each piece gives (its
validated entry, its search row, its cause-index row, where its `id =` lines are) is kept in a
memo keyed by the blake2b of the piece's bytes. An edit re-reads only the pieces it changed.

Why the cut is safe: a header line inside a multi-line string or array would leave the piece
before it unterminated, and that piece would not parse on its own. So every piece must parse
on its own to exactly one entry of its table, the preamble to no table entry at all, and no id
may repeat; then each piece starts where the whole file's parser stands between entries, and
the pieces' entries, in order, are the file's tables. Anything else (and any invalid entry or
dangling reference) returns None: the caller takes the ordinary path (load.build), which gives
the error messages. tests/test_chunks.py compares both paths on generated files.

The memo is a SQLite file in the cache dir, named by a hash of the code that computes its
records; each record carries a crc32, checked on read, and a record that fails is recomputed.
JSON and text only, never pickle.
"""

from __future__ import annotations

import json
import os
import re
from zlib import crc32

from leuko_cli import __version__, paths
from leuko_cli.kb_state import blake2b

from . import store
from .schema import SCHEMA_VERSION, TABLES

MEMO_FORMAT = 1
MAX_EXTRA_ROWS = 2000  # records kept beyond the current files' pieces before a prune
# A schema entry nests 4 deep (cause, review, record, list); a provenance key may nest any
# value deeper, and how deep tomllib can go depends on the stack it is called from, which is
# not load.build's: past this depth the whole-file path decides (it may say "nested too deeply")
MAX_DEPTH = 32
_NAMES = b"|".join(re.escape(t.encode()) for t in TABLES)
_HEADER = re.compile(rb"^\[\[(" + _NAMES + rb")\]\][ \t]*(?:#[^\r\n]*)?\r?$", re.MULTILINE)
_CODE = ("validation.py", "schema.py", "search.py", "match.py", "porter.py", "chunks.py")


class Unsure(Exception):
    """The file cannot be taken piece by piece: use the ordinary path."""


def split(data: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """(preamble, [(table, piece)]): the file cut before each `[[table]]` header line."""
    starts = [(m.start(), m.group(1).decode()) for m in _HEADER.finditer(data)]
    ends = [s for s, _ in starts[1:]] + [len(data)]
    return data[: starts[0][0]] if starts else data, [
        (table, data[start:end]) for (start, table), end in zip(starts, ends)
    ]


def _memo_key() -> str:
    digest = blake2b()
    here = os.path.dirname(os.path.abspath(__file__))
    import sys
    import unicodedata

    # search rows fold case with str.casefold: a new Python's Unicode tables may change them
    versions = (sys.version, unicodedata.unidata_version)
    for part in (__version__, str(SCHEMA_VERSION), str(store.FORMAT), str(MEMO_FORMAT), *versions):
        digest.update(part.encode() + b"\0")
    for name in _CODE:
        with open(os.path.join(here, name), "rb") as fh:
            digest.update(fh.read())
    return digest.hexdigest()[:24]


class Memo:
    """Records by piece hash: the entry's compact JSON, and `extra`, a JSON list [table, its
    id lines, its search row, its cause-index row, its line count, what check_references reads
    of it]. Any failure of the memo file leaves the memo out of the run, never the run."""

    def __init__(self) -> None:
        self.records: dict[bytes, tuple[bytes, bytes]] = {}
        self.new: list[tuple[bytes, bytes, bytes]] = []
        self.path = None
        base = paths.cache_root()
        if base is None:
            return
        try:
            self.path = os.path.join(base, f"memo-{_memo_key()}.sqlite")
        except OSError:  # the code cannot be read (e.g. shipped as .pyc only): no memo
            return
        if os.path.islink(self.path):  # not one leuko made: never read or write through it
            self.path = None
            return
        try:
            escaped = self.path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
            conn = store.sqlite.connect(f"file:{escaped}?mode=ro", uri=True, timeout=0.2)
        except store.DatabaseError:
            return  # none yet
        try:
            conn.execute("PRAGMA mmap_size = 268435456")  # read in place: a quarter less time
            for key, crc, entry, extra in conn.execute("SELECT key, crc, entry, extra FROM pieces"):
                if (
                    isinstance(key, bytes)
                    and isinstance(entry, bytes)
                    and isinstance(extra, bytes)
                    and crc32(extra, crc32(entry, crc32(key))) == crc
                ):
                    self.records[key] = (entry, extra)
        except store.DatabaseError:
            self.records.clear()  # unreadable: recompute every piece, rewrite below
        finally:
            conn.close()

    @property
    def usable(self) -> bool:
        """Worth taking the piecewise path: records to reuse, or a place to keep new ones (a
        cold memo costs more than one whole parse, so it must be written to pay back)."""
        if self.records:
            return True
        if self.path is None or os.path.lexists(self.path) and not os.path.isfile(self.path):
            return False  # e.g. a directory where the memo should be: it can never be written
        base = os.path.dirname(self.path)
        return os.access(base if os.path.isdir(base) else os.path.dirname(base), os.W_OK)

    def get(self, key: bytes) -> tuple[bytes, list] | None:
        found = self.records.get(key)
        if found is None:
            return None
        try:
            extra = json.loads(found[1])
        except ValueError:  # pragma: no cover - the crc matched
            return None
        if not isinstance(extra, list) or len(extra) != 6:
            return None
        return found[0], extra

    def add(self, key: bytes, entry: bytes, extra: list) -> None:
        extra_bytes = _dumps(extra)
        self.records[key] = (entry, extra_bytes)
        self.new.append((key, entry, extra_bytes))

    def save(self, keep: set[bytes]) -> None:
        """Add the new records; past MAX_EXTRA_ROWS beyond `keep`, drop all but `keep`."""
        if self.path is None or not self.new:
            return
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            conn = store.sqlite.connect(self.path, timeout=0.5)
        except (OSError, store.DatabaseError):
            return
        try:
            with conn:  # one transaction: sqlite's own lock and journal keep it whole
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS pieces(key BLOB PRIMARY KEY, crc INTEGER, "
                    "entry BLOB, extra BLOB)"
                )
                conn.executemany(
                    "INSERT OR REPLACE INTO pieces VALUES (?, ?, ?, ?)",
                    [(k, crc32(x, crc32(e, crc32(k))), e, x) for k, e, x in self.new],
                )
                (count,) = conn.execute("SELECT count(*) FROM pieces").fetchone()
                if count > len(keep) + MAX_EXTRA_ROWS:
                    conn.execute("CREATE TEMP TABLE keep(key BLOB PRIMARY KEY)")
                    conn.executemany("INSERT OR IGNORE INTO keep VALUES (?)", [(k,) for k in keep])
                    conn.execute("DELETE FROM pieces WHERE key NOT IN (SELECT key FROM keep)")
        except store.DatabaseError as err:
            if not isinstance(err, store.sqlite.OperationalError):  # damaged: start afresh
                try:
                    os.unlink(self.path)
                except OSError:
                    pass
        finally:
            conn.close()
        self._prune_other_versions()

    def _prune_other_versions(self) -> None:
        base, mine = os.path.dirname(self.path), os.path.basename(self.path)
        try:
            names = os.listdir(base)
        except OSError:
            return
        for name in names:
            if name.startswith("memo-") and name.endswith(".sqlite") and name != mine:
                try:
                    os.unlink(os.path.join(base, name))
                except OSError:
                    pass


class File:
    """One KB file taken piece by piece: `doc` as validate() would return it, except that each
    cause holds only what check_references reads; `lines` as locate.entry_lines() would
    give; and the memo record of each entry by (table, id)."""

    def __init__(self, data: bytes, name: str, require_core: bool, memo: Memo) -> None:
        import tomllib

        from leuko_cli.errors import KBError

        from .validation import validate

        preamble, pieces = split(data)
        try:
            preamble_text = preamble.decode("utf-8")
            head = tomllib.loads(preamble_text)
        except (ValueError, RecursionError):  # TOMLDecodeError, UnicodeDecodeError, int() limit
            raise Unsure from None
        if any(t in head for t in TABLES) or _too_deep(head):
            raise Unsure
        try:
            self.doc = validate(head, require_core=require_core, label=name)
        except KBError:
            raise Unsure from None
        from .locate import entry_lines

        ids, self.settings_lines = entry_lines(preamble_text)
        offset = preamble_text.count("\n")  # TOML ends a line at LF only
        self.records: dict[tuple[str, str], tuple] = {}
        self.keys: list[bytes] = []
        for table, piece in pieces:
            digest = blake2b()
            digest.update(piece)
            key = digest.digest()
            self.keys.append(key)
            found = memo.get(key)
            if found is None:
                found = _compute(table, piece)
                memo.add(key, *found)
            entry_bytes, (kind_table, id_lines, row, index_row, nlines, checked) = found
            entry = checked if table == "causes" else json.loads(entry_bytes)
            ident = entry.get("id") if isinstance(entry, dict) else None
            if kind_table != table or not isinstance(ident, str) or (table, ident) in self.records:
                raise Unsure  # a repeated id: validate() says so, with its line
            self.doc[table].append(entry)
            self.records[(table, ident)] = (entry_bytes, row, index_row)
            for t, i, line in id_lines:
                ids.setdefault((t, i), offset + line)
            offset += nlines
        self.lines = (ids, self.settings_lines)


def _compute(table: str, piece: bytes) -> tuple[bytes, list]:
    """A piece's record: parsed alone, validated, indexed."""
    import tomllib

    from . import match, search
    from .locate import entry_lines
    from .validation import check_entry, checked_fields

    try:
        text = piece.decode("utf-8")
        parsed = tomllib.loads(text)
    except (ValueError, RecursionError):  # TOMLDecodeError, UnicodeDecodeError, int() limit
        raise Unsure from None
    rows = parsed.get(table)
    if list(parsed) != [table] or not isinstance(rows, list) or len(rows) != 1:
        raise Unsure
    if _too_deep(rows[0]):
        raise Unsure
    problems: list[str] = []
    entry = check_entry(table, rows[0], table, problems)
    if problems:
        raise Unsure
    try:
        entry_bytes = _dumps(entry)
    except (TypeError, ValueError):  # a provenance field holding a date: no memo
        raise Unsure from None
    entry = json.loads(entry_bytes)  # what a memo hit gives: the same for every run
    kind = {t: k for k, t, _ in search.KINDS}.get(table)
    row = list(search.row(kind, entry)) if kind else None
    index_row = match.index_row(entry).decode() if table == "causes" else None
    ids, settings_lines = entry_lines(text)
    if settings_lines:  # a `[settings]` line in a string: the whole file's settings_origin
        raise Unsure  # may take a line from here, and a record keeps only the preamble's
    id_lines = [[t, i, line] for (t, i), line in ids.items()]
    fields = checked_fields(table)
    checked = {k: v for k, v in entry.items() if k in fields} if table == "causes" else None
    return entry_bytes, [table, id_lines, row, index_row, text.count("\n"), checked]


class Built:
    """What build() gives: the merged KB (causes cut to what check_references reads), each
    cause's compact JSON as the store keeps it, the cause index, and the search rows."""

    def __init__(self, merged: dict, bodies: list[bytes], index_text: bytes, row_of) -> None:
        self.merged, self.bodies, self.index_text, self.row_of = merged, bodies, index_text, row_of

    def full(self) -> dict:
        """The merged KB with whole causes (each body is exactly a merged cause's JSON)."""
        return {**self.merged, "causes": [json.loads(b) for b in self.bodies]}


def build(
    bundled_bytes: bytes, bundled_name: str, overlay_bytes: bytes | None, overlay_name: str | None
) -> Built | None:
    """The merged KB and what the store needs, as load.build and the store would compute them,
    or None when the ordinary path must run (or the memo could not pay its way)."""
    from leuko_cli.errors import KBError

    from . import search
    from .load import merge
    from .validation import check_references

    try:  # a file name that is not UTF-8 (lone surrogates): no body could hold it
        (overlay_name or "").encode()
    except UnicodeEncodeError:
        return None
    if overlay_bytes is None:  # the bundled KB alone is built once per release: parse it whole
        return None
    memo = Memo()
    if not memo.usable:
        return None
    try:
        base = File(bundled_bytes, bundled_name, True, memo)
        extra = (
            File(overlay_bytes, overlay_name, False, memo) if overlay_bytes is not None else None
        )
    except Unsure:
        return None
    merged = merge(
        base.doc,
        extra.doc if extra else None,
        overlay_name=overlay_name,
        lines=extra.lines if extra else ({}, {}),
    )
    try:
        check_references(merged)
    except KBError:
        return None
    files = {"bundled": base, "overlay": extra}

    def record(table: str, entry: dict):
        return files[entry["source"]].records[(table, entry["id"])]

    bodies = []
    for cause in merged["causes"]:
        entry_bytes = record("causes", cause)[0]
        if b'"source' in entry_bytes:  # perhaps its own provenance keys, which keep their place
            whole = {**json.loads(entry_bytes), "source": cause["source"]}
            if cause["source"] == "overlay":
                whole["source_location"] = cause["source_location"]
            bodies.append(_dumps(whole))  # as load.merge builds it
            continue
        tail = f',"source":"{cause["source"]}"'
        if "source_location" in cause:
            tail += ',"source_location":' + json.dumps(cause["source_location"], ensure_ascii=False)
        bodies.append(entry_bytes[:-1] + tail.encode() + b"}")
    index_text = "".join(record("causes", c)[2] + "\n" for c in merged["causes"]).encode()

    def row_of(kind: str, entry: dict):
        row = record(search.TABLE_OF[kind], entry)[1]
        return (row[0], row[1], row[2], row[3])

    memo.save(set(base.keys) | set(extra.keys if extra else []))
    return Built(merged, bodies, index_text, row_of)


def _too_deep(value, depth: int = 0) -> bool:
    if depth > MAX_DEPTH:
        return True
    if isinstance(value, dict):
        value = value.values()
    elif not isinstance(value, list):
        return False
    return any(_too_deep(v, depth + 1) for v in value)


def _dumps(value) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
