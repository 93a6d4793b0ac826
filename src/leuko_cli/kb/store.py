"""The KB cache: one SQLite database per KB state (bundled file + overlay), in the cache dir.

Why each part is there:
- Keyed by content. The file name holds a blake2b of the leuko version, the schema version,
  the store format, the bundled KB bytes and the overlay's hash; a changed input is another
  file, so a stale store is never opened. Several states (bundled only, overlay A, overlay B)
  coexist; a write prunes all but the KEEP newest.
- Checked, because SQLite is not. SQLite has no checksum of its own: a flipped byte in a page
  can change a value, or make a row vanish from a query, without an error. So:
  * `blobs` holds the KB without its causes ("tables") and the cause index ("index": a crc32
    per cause, then one row of folded match text per cause), each with its crc32. A load reads
    and checks "tables" only; the first cause query reads and checks "index" and filters it in
    Python (match.py), so a damaged page cannot drop a cause from an answer unnoticed.
  * `causes` holds one JSON row per cause; a row is checked against its crc32 from the index
    when it is decoded, so only the causes a query returns are read.
  * The search tables (docs and FTS5's own tables) are scanned and checked against a digest
    kept in "tables" before the first search of a process (verify_search): a damaged FTS5 page
    could otherwise lose or invent hits.
  Any mismatch, missing row or sqlite error raises Damaged; the caller rebuilds from the TOML.
- Written whole or not at all: built in a temp file beside it, then os.replace; the temp file
  is removed on any failure, KeyboardInterrupt included. Readers open the file immutable (it is
  never changed in place, only replaced), so an open store keeps answering from the file it
  opened even if another process replaces or deletes it.
JSON, integers and text only: never pickle from a user-writable directory.
"""

from __future__ import annotations

import json
import os
from zlib import crc32

from leuko_cli import __version__, paths
from leuko_cli.kb_state import blake2b

from .schema import SCHEMA_VERSION

try:  # the C module: `sqlite3` would also import datetime (a start-up cost, see paths.py)
    import _sqlite3 as sqlite
except ImportError:  # pragma: no cover - other interpreters
    import sqlite3 as sqlite

FORMAT = 6  # 6: the references are their own checked blob, read on first use
KEEP = 4  # newest stores kept per cache dir
_STALE_TEMP_SECONDS = 3600  # a temp file this old was left by a killed process
DatabaseError = sqlite.DatabaseError

_SEARCH_TABLES = [  # what a search reads, in a fixed order for the digest
    "SELECT rowid, kind, id, names FROM docs ORDER BY rowid",
    "SELECT id, block FROM search_data ORDER BY id",
    "SELECT segid, term, pgno FROM search_idx ORDER BY segid, term",
    "SELECT id, sz FROM search_docsize ORDER BY id",
    "SELECT k, v FROM search_config ORDER BY k",
]


class Damaged(Exception):
    """The store is unreadable or fails a check: rebuild from the sources."""


def key(bundled_hash: str, overlay_hash: str, overlay_name: str = "") -> str:
    """The store's state key. The overlay's file name is part of it: each overlay entry
    records where it came from (`source_location`, FILE:LINE), so the same text in another
    file is another store."""
    digest = blake2b()
    for part in (
        __version__.encode(),
        str(SCHEMA_VERSION).encode(),
        str(FORMAT).encode(),
        bundled_hash.encode(),
        overlay_hash.encode(),
        overlay_name.encode("utf-8", "surrogatepass"),
    ):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


PACKAGED_STORE = "kb.sqlite"  # the wheel's prebuilt store, beside the bundled causes.toml


def store_file(state_key: str) -> str | None:
    base = paths.cache_root()
    return os.path.join(base, f"kb-{state_key[:32]}.sqlite") if base else None


def _uri(path: str) -> str:
    # immutable: no locking or change checks; safe because a store is replaced, never edited
    escaped = path.replace("%", "%25").replace("?", "%3f").replace("#", "%23")
    return f"file:{escaped}?mode=ro&immutable=1"


def fts5_available() -> bool:
    try:
        conn = sqlite.connect(":memory:")
        try:
            conn.execute("CREATE VIRTUAL TABLE t USING fts5(a)")
        finally:
            conn.close()
        return True
    except DatabaseError:
        return False


def _search_digest(conn) -> int:
    crc = 0
    for query in _SEARCH_TABLES:
        for row in conn.execute(query):
            for value in row:
                raw = value if isinstance(value, bytes) else str(value).encode()
                crc = crc32(raw, crc32(len(raw).to_bytes(8, "little"), crc))
    return crc


def create_search(conn, index_rows) -> None:
    """The docs table and the FTS5 table (contentless: the texts live in the KB rows)."""
    conn.execute("CREATE TABLE docs(rowid INTEGER PRIMARY KEY, kind TEXT, id TEXT, names TEXT)")
    conn.execute(
        "CREATE VIRTUAL TABLE search USING fts5(title, names, body, detail, extra, "
        "content='', tokenize='porter ascii')"
    )
    index_rows = list(index_rows)
    conn.executemany(
        "INSERT INTO docs VALUES (?, ?, ?, ?)",
        [
            (rowid, kind, ident, names)
            for rowid, (kind, ident, _, names) in enumerate(index_rows, 1)
        ],
    )
    conn.executemany(
        "INSERT INTO search(rowid, title, names, body, detail, extra) VALUES (?, ?, ?, ?, ?, ?)",
        [(rowid, *columns) for rowid, (_, _, columns, _) in enumerate(index_rows, 1)],
    )
    conn.execute("INSERT INTO search(search) VALUES ('optimize')")


def search_hits(conn, match: str) -> list[tuple[str, str, str, float]]:
    """(kind, id, folded names, bm25 score) of every entry matching; bm25 is negated by FTS5."""
    weights = ", ".join(str(w) for w in _weights())
    return [
        (kind, ident, names, -score)
        for kind, ident, names, score in conn.execute(
            f"SELECT docs.kind, docs.id, docs.names, bm25(search, {weights}) FROM search "
            "JOIN docs ON docs.rowid = search.rowid WHERE search MATCH ?",
            (match,),
        )
    ]


def _weights():
    from .search import WEIGHTS

    return WEIGHTS


class Store:
    """An open, checked store: `data` is the KB without causes, `count` its cause count."""

    def __init__(self, path: str, conn, head: dict) -> None:
        self.path = path
        self._conn = conn
        self.data = head["kb"]
        self.count = head["causes"]
        self._search_digest = head["search"]
        self._search_checked = False

    @property
    def has_search(self) -> bool:
        return self._search_digest is not None

    def _blob(self, name: str) -> bytes:
        try:
            row = self._conn.execute(
                "SELECT crc, body FROM blobs WHERE name = ?", (name,)
            ).fetchone()
        except DatabaseError:
            raise Damaged from None
        if row is None or not isinstance(row[1], bytes) or crc32(row[1]) != row[0]:
            raise Damaged
        return row[1]

    def references(self) -> list[dict]:
        """The [[references]] table, checked."""
        try:
            refs = json.loads(self._blob("references"))
        except ValueError:  # pragma: no cover - the crc matched
            raise Damaged from None
        if not isinstance(refs, list):
            raise Damaged
        return refs

    def cause_index(self) -> tuple[bytes, bytes]:
        """(crc32s, 4 bytes per cause; index text, one row per cause), checked."""
        blob = self._blob("index")
        crcs, text = blob[: 4 * self.count], blob[4 * self.count :]
        if len(crcs) != 4 * self.count or text.count(b"\n") != self.count:
            raise Damaged
        return crcs, text

    def causes(self, positions: list[int], crcs: bytes) -> list[dict]:
        """The causes at these positions, each checked against its crc32 from the index."""
        wanted = sorted(set(positions))
        try:
            if len(wanted) > 500:  # fewer statements than positions; sqlite caps parameters
                found = dict(
                    self._conn.execute(
                        "SELECT pos, body FROM causes WHERE pos BETWEEN ? AND ?",
                        (wanted[0], wanted[-1]),
                    )
                )
            else:
                marks = ",".join("?" * len(wanted))
                found = dict(
                    self._conn.execute(
                        f"SELECT pos, body FROM causes WHERE pos IN ({marks})", wanted
                    )
                )
        except DatabaseError:
            raise Damaged from None
        out = []
        for p in positions:
            body = found.get(p)
            if not isinstance(body, bytes) or crc32(body) != int.from_bytes(
                crcs[4 * p : 4 * p + 4], "little"
            ):
                raise Damaged
            try:
                out.append(json.loads(body))
            except ValueError:  # pragma: no cover - the crc matched
                raise Damaged from None
        return out

    def search(self, match: str) -> list[tuple[str, str, str, float]]:
        try:
            if not self._search_checked:
                if _search_digest(self._conn) != self._search_digest:
                    raise Damaged
                self._search_checked = True
            return search_hits(self._conn, match)
        except DatabaseError:
            raise Damaged from None


def open_store(state_key: str, path: str | None = None, fresh: bool = False) -> Store | None:
    """The checked store for this state, or None when missing, stale, damaged or unreadable.
    `path` names a store other than the cache's (the wheel's prebuilt one). `fresh`: this
    process has just written it and digested its search tables from disk (_fill), so the
    first search need not scan them again."""
    path = path or store_file(state_key)
    if path is None or not os.path.isfile(path):
        return None
    conn = None
    try:
        conn = sqlite.connect(_uri(path), uri=True)
        row = conn.execute("SELECT crc, body FROM blobs WHERE name = 'tables'").fetchone()
        if row is None or not isinstance(row[1], bytes) or crc32(row[1]) != row[0]:
            raise Damaged
        head = json.loads(row[1])
        if (
            head.get("format") != FORMAT
            or head.get("key") != state_key
            or not isinstance(head.get("kb"), dict)
            or not isinstance(head.get("causes"), int)
        ):
            raise Damaged
        opened = Store(path, conn, head)
        opened._search_checked = fresh
        return opened
    except (DatabaseError, Damaged, ValueError, AttributeError, OSError):
        if conn is not None:
            conn.close()
        return None


def write_store(
    state_key: str, data: dict, index_text: bytes, search_rows, bodies: list | None = None
) -> None:
    """Write this state's store; any failure leaves no file behind and the run goes on
    uncached. `search_rows` is a callable giving search.rows() (only called with FTS5);
    `bodies`, when given, are the causes' compact JSON, already encoded."""
    path = store_file(state_key)
    if path is None:
        return
    base = os.path.dirname(path)
    tmp = f"{path}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    conn = None
    try:
        os.makedirs(base, exist_ok=True)
        conn = sqlite.connect(tmp)
        _fill(conn, state_key, data, index_text, search_rows, bodies)
        conn.commit()
        conn.close()
        conn = None
        os.replace(tmp, path)
    except BaseException as err:
        if conn is not None:
            conn.close()
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if not isinstance(err, (OSError, DatabaseError, OverflowError, UnicodeEncodeError)):
            raise  # KeyboardInterrupt and bugs go on up; the temp file is gone
        return
    prune(base, keep=path)


def _fill(conn, state_key: str, data: dict, index_text: bytes, search_rows, bodies) -> None:
    conn.execute("PRAGMA journal_mode = OFF")  # a temp file: a crash just leaves it unused
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("CREATE TABLE blobs(name TEXT PRIMARY KEY, crc INTEGER, body BLOB)")
    conn.execute("CREATE TABLE causes(pos INTEGER PRIMARY KEY, body BLOB)")
    causes = data.get("causes", [])
    if bodies is None:
        bodies = [json.dumps(c, separators=(",", ":"), ensure_ascii=False).encode() for c in causes]
    crcs = b"".join(crc32(body).to_bytes(4, "little") for body in bodies)
    conn.executemany("INSERT INTO causes VALUES (?, ?)", enumerate(bodies))
    digest = None
    if fts5_available():
        create_search(conn, search_rows())
        conn.commit()  # FTS5 writes its pending index data at commit: digest what is on disk
        digest = _search_digest(conn)
    head = {
        "format": FORMAT,
        "key": state_key,
        "causes": len(causes),
        "search": digest,
        "kb": {k: v for k, v in data.items() if k not in ("causes", "references")},
    }
    references = data.get("references", [])
    for name, body in (
        ("index", crcs + index_text),
        ("tables", json.dumps(head, separators=(",", ":"), ensure_ascii=False).encode()),
        # three quarters of the tables' bytes, and an assessment's JSON needs none of it
        ("references", json.dumps(references, separators=(",", ":"), ensure_ascii=False).encode()),
    ):
        conn.execute("INSERT INTO blobs VALUES (?, ?, ?)", (name, crc32(body), body))


def prune(base: str, keep: str) -> None:
    """Remove all but the KEEP newest stores (never `keep`), caches of older formats, and temp
    files old enough to have been left by a killed process."""
    import time

    try:
        names = os.listdir(base)
    except OSError:
        return
    stores = []
    for name in names:
        full = os.path.join(base, name)
        try:
            if name.startswith("kb-") and name.endswith((".cache", ".json")):
                os.unlink(full)  # formats before the SQLite store
            elif name.startswith("kb-") and name.endswith(".tmp"):
                if time.time() - os.stat(full).st_mtime > _STALE_TEMP_SECONDS:
                    os.unlink(full)
            elif name.startswith("kb-") and name.endswith(".sqlite") and full != keep:
                stores.append((os.stat(full).st_mtime_ns, full))
        except OSError:
            pass  # another process removed it first, or a read-only dir
    stores.sort(reverse=True)
    for _, old in stores[KEEP - 1 :]:
        try:
            os.unlink(old)
        except OSError:
            pass


class MemorySearch:
    """The FTS5 engine over an in-memory database: for a KB with no store (cache disabled or
    unwritable, a damaged store, or a KB built in a test)."""

    def __init__(self, index_rows) -> None:
        self._conn = sqlite.connect(":memory:")
        create_search(self._conn, index_rows)

    def hits(self, query_words: list[str]) -> list[tuple[str, str, str, float]]:
        from .search import fts_query

        return search_hits(self._conn, fts_query(query_words))
