"""Loading: the bundled file and the personal overlay, TOML parsing, the merge, and `load()`.

Load path: bundled `causes.toml` (+ optional overlay) -> content key -> the store for that key
(store.py) if it opens and checks out, else parse + validate + merge and write a new store.
The cached path reads neither TOML file's contents beyond the bundled bytes for the key (the
overlay's hash is remembered, below), and imports neither tomllib nor datetime.
"""

from __future__ import annotations

import json
import os
import re

from leuko_cli import paths
from leuko_cli.errors import SAVE_AS_UTF8, UTF16, KBError, is_utf16
from leuko_cli.kb_state import BUNDLED_MEMO, OVERLAY_MEMO, bundled_file, content_hash
from leuko_cli.kb_state import remembered_hash as _remembered_hash
from leuko_cli.kb_state import signature as _signature

from . import store
from .knowledge_base import KnowledgeBase
from .schema import TABLES

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from . import chunks

OVERLAY_HINT = (
    "your personal overlay is broken: `leuko kb check` lists every problem; fix "
    "them, or move {path} away to use the bundled knowledge base alone"
)


def bundled_path() -> Path:
    from pathlib import Path

    return Path(bundled_file())


def toml_problem(data: bytes, path: str) -> tuple[dict | None, str | None]:
    """Parse TOML bytes: (document, None), or (None, "path:line: what is wrong")."""
    import tomllib  # only on a cache miss

    try:
        return tomllib.loads(data.decode("utf-8")), None
    except UnicodeDecodeError as err:
        if is_utf16(data):
            return None, f"{path}:1: {UTF16}; {SAVE_AS_UTF8}"
        line = data[: err.start].count(b"\n") + 1
        return None, f"{path}:{line}: not UTF-8 text ({err.reason} at byte {err.start})"
    except tomllib.TOMLDecodeError as err:
        if data.startswith(b"\xef\xbb\xbf"):  # Notepad's UTF-8 BOM: invisible in an editor
            return None, (
                f"{path}:1: starts with a byte-order mark (BOM), which TOML does not allow; "
                "save the file as UTF-8 without BOM"
            )
        text = str(err)
        m = re.search(r"\s*\(at line (\d+), column (\d+)\)\s*$", text)
        if m:
            return None, (
                f"{path}:{m.group(1)}: not valid TOML: {text[: m.start()]} (column {m.group(2)})"
            )
        m = re.search(r"\s*\(at end of document\)\s*$", text)
        if m:
            line = max(1, len(data.splitlines()))
            return None, f"{path}:{line}: not valid TOML: {text[: m.start()]} (at end of file)"
        return None, f"{path}: not valid TOML: {text}"
    except RecursionError:
        return None, f"{path}: not valid TOML: nested too deeply"
    except ValueError as err:  # int() past Python's 4300-digit limit
        return None, f"{path}: not valid TOML: {str(err).split(';')[0]}"


def parse_toml(data: bytes, path: str) -> dict:
    doc, problem = toml_problem(data, path)
    if problem is not None:
        raise KBError(problem, path)
    return doc


def merge(
    bundled: dict,
    overlay: dict | None,
    *,
    overlay_name: str | None = None,
    overlay_text: str | None = None,
    lines: tuple[dict, dict] | None = None,
) -> dict:
    """Overlay entries with a new id are added; an existing id is replaced. Each entry records
    where it came from: `source` ("bundled" or "overlay") and, for overlay entries,
    `source_location` ("FILE:LINE" of its `id =`, when the overlay's name and text are given).
    `settings_origin` maps each setting to "bundled" or "overlay FILE:LINE"."""
    from .locate import entry_lines

    if lines is None:  # `lines`: entry_lines() of the overlay, when already known (chunks.py)
        lines = entry_lines(overlay_text) if overlay_text is not None else ({}, {})
    ids, setting_lines = lines
    name = overlay_name or "overlay"

    def where(line: int | None) -> str:
        return f"{name}:{line}" if line else name

    merged: dict = {"meta": bundled["meta"], "settings": dict(bundled["settings"])}
    origin = {k: "bundled" for k in merged["settings"]}
    for k, v in ((overlay or {}).get("settings") or {}).items():
        if v is not None:
            merged["settings"][k] = v
            origin[k] = f"overlay {where(setting_lines.get(k))}"
    for table in TABLES:
        rows = {e["id"]: {**e, "source": "bundled"} for e in bundled.get(table, [])}
        for e in (overlay or {}).get(table, []):
            rows[e["id"]] = {
                **e,
                "source": "overlay",
                "source_location": where(ids.get((table, e["id"]))),
            }
        merged[table] = list(rows.values())
    merged["settings_origin"] = origin
    return merged


def build(
    bundled_bytes: bytes, bundled_name: str, overlay_bytes: bytes | None, overlay_name: str | None
) -> dict:
    """Parse, validate and merge (the uncached path)."""
    from .locate import locate_problems
    from .validation import check_references, validate

    def one(data: bytes, name: str, core: bool) -> dict:
        raw = parse_toml(data, name)
        try:
            return validate(raw, require_core=core, label=name)
        except KBError as err:
            raise KBError(
                locate_problems(err.problems, data.decode("utf-8", "replace"), name), name
            ) from None

    base = one(bundled_bytes, bundled_name, True)
    extra = one(overlay_bytes, overlay_name, False) if overlay_bytes is not None else None
    merged = merge(
        base,
        extra,
        overlay_name=overlay_name,
        overlay_text=overlay_bytes.decode("utf-8", "replace") if extra else None,
    )
    try:
        check_references(merged)
    except KBError as err:
        name = overlay_name if extra else bundled_name
        text = (overlay_bytes if extra else bundled_bytes).decode("utf-8", "replace")
        raise KBError(locate_problems(err.problems, text, name), name) from None
    return merged


def check_file(path: Path) -> list[str]:
    """Problems in a KB or overlay file (empty when valid). An overlay is checked merged with
    the bundled KB, so its citations may point at bundled references."""
    import stat as st

    is_bundled = path.resolve() == bundled_path().resolve()
    try:
        if not st.S_ISREG(path.stat().st_mode):  # a directory, FIFO or /dev/zero
            return [f"{path}: cannot read (not a regular file); give a .toml file"]
        data = path.read_bytes()
    except OSError as err:
        return [f"{path}: cannot read ({err.strerror})"]
    try:
        if is_bundled:
            build(data, str(path), None, None)
        else:
            build(bundled_path().read_bytes(), str(bundled_path()), data, str(path))
    except KBError as err:
        return err.problems
    return []


def _read_bytes(path: str | Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


# --- overlay hash memo --------------------------------------------------------------------
# Hashing a 5 MB overlay costs more than the rest of a cached query. As git does for its
# index, the overlay's content hash is remembered with the file's stat signature (path, size,
# mtime, ctime, inode, device) and reused while the signature is unchanged. On POSIX any write
# changes ctime, which no user call can set back; and a file changed within RACY_SECONDS of
# being hashed is not remembered, so a coarse timestamp cannot hide a same-size edit. Elsewhere
# the overlay is hashed on every run.

RACY_SECONDS = 2.0


def _remember_hash(signature: list, file_hash: str, stat, memo: str = OVERLAY_MEMO) -> None:
    import time

    base = paths.cache_root()
    if (
        base is None
        or time.time_ns() - max(stat.st_mtime_ns, stat.st_ctime_ns) < RACY_SECONDS * 1e9
    ):
        return
    path = os.path.join(base, memo)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(base, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(json.dumps({"signature": signature, "blake2b": file_hash}).encode())
        os.replace(tmp, path)
    except OSError:  # read-only cache dir: hash every time
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _overlay_error(path, what: str) -> KBError:
    return KBError(f"{path}: {what}", str(path), hint=OVERLAY_HINT.format(path=path))


def _overlay_stat(path):
    """os.stat of the overlay, None when there is no file there at all; KBError when a file
    is there but cannot be the overlay (a directory, a dangling symlink, unreadable): that is
    a mistake to fix, not a reason to go on silently with the bundled KB alone."""
    import stat as st

    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise _overlay_error(
                path, "cannot read the overlay (a symbolic link to a file that does not exist)"
            ) from None
        return None
    except OSError as err:
        raise _overlay_error(path, f"cannot read the overlay ({err.strerror})") from None
    if st.S_ISDIR(info.st_mode):
        raise _overlay_error(path, "cannot read the overlay (it is a directory, not a file)")
    if not st.S_ISREG(info.st_mode):  # a FIFO or /dev/zero would be read without end
        raise _overlay_error(path, "cannot read the overlay (not a regular file)")
    if not os.access(path, os.R_OK):
        raise _overlay_error(path, "cannot read the overlay (permission denied)")
    return info


def load(*, overlay: str | Path | None | bool = True, use_cache: bool = True) -> KnowledgeBase:
    """Load the bundled KB merged with the personal overlay (if present).

    overlay=True uses the platform overlay path; a path uses that file; False/None skips it.
    """
    bundled = bundled_file()

    def read_bundled() -> bytes:
        try:
            return _read_bytes(bundled)
        except OSError as err:
            raise KBError(
                f"{bundled}: cannot read the bundled knowledge base ({err.strerror}); "
                "reinstall leuko",
                str(bundled),
            ) from None

    # the bundled KB's hash is remembered like the overlay's (hashing it is most of a
    # cached run's own work); it is read whole only to hash it anew or to build a store
    bundled_bytes: bytes | None = None
    bundled_hash = None
    signature = None
    if use_cache and os.name == "posix":
        try:
            info = os.stat(bundled)
            signature = _signature(info, bundled)
            bundled_hash = _remembered_hash(signature, BUNDLED_MEMO)
        except OSError:
            info = None
    if bundled_hash is None:
        bundled_bytes = read_bundled()
        bundled_hash = content_hash(bundled_bytes)
        if signature:
            _remember_hash(signature, bundled_hash, info, BUNDLED_MEMO)
    overlay_path = paths.overlay_file() if overlay is True else (overlay or None)

    def read_overlay() -> bytes:
        try:
            return _read_bytes(overlay_path)
        except OSError as err:
            raise _overlay_error(
                overlay_path, f"cannot read the overlay ({err.strerror})"
            ) from None

    overlay_bytes: bytes | None = None
    overlay_hash = ""
    if overlay_path is not None:
        info = _overlay_stat(overlay_path)
        if info is None:
            overlay_path = None
        else:
            # POSIX only: on Windows st_ctime is the creation time, which a write does not move
            signature = _signature(info, overlay_path) if use_cache and os.name == "posix" else None
            overlay_hash = (_remembered_hash(signature) if signature else None) or ""
            if not overlay_hash:
                overlay_bytes = read_overlay()
                overlay_hash = content_hash(overlay_bytes)
                if signature:
                    _remember_hash(signature, overlay_hash, info)
    status = "loaded" if overlay_path is not None else "absent"
    # as entries record it (source_location) and as the store key holds it
    overlay_name = str(overlay_path) if overlay_path else None

    def from_sources(open_written: bool = False) -> tuple[dict | None, store.Store | None]:
        """Build from the TOML files and write the store: (the merged KB, None), or with
        open_written (None, the store just written) when it opens."""
        nonlocal overlay_bytes, overlay_hash, bundled_bytes, bundled_hash
        if bundled_bytes is None:  # the hash came from the memo
            bundled_bytes = read_bundled()
            bundled_hash = content_hash(bundled_bytes)
        if overlay_path is not None and overlay_bytes is None:  # the hash came from the memo
            overlay_bytes = read_overlay()
            overlay_hash = content_hash(overlay_bytes)  # the file may have changed since
        names = (str(bundled), overlay_name)
        # entry by entry from the memo where it can (chunks.py), else the whole files anew
        quick = None
        if use_cache:
            from . import chunks  # a rebuild's only: not on a cached run's start-up path

            quick = chunks.build(bundled_bytes, names[0], overlay_bytes, names[1])
        try:
            data = (
                quick.merged if quick else build(bundled_bytes, names[0], overlay_bytes, names[1])
            )
        except KBError as err:
            if overlay_path is None or err.path != str(overlay_path):
                raise
            raise KBError(
                err.problems, err.path, hint=OVERLAY_HINT.format(path=overlay_path)
            ) from None
        if use_cache:  # keyed by the bytes just built from
            state_key = store.key(bundled_hash, overlay_hash, overlay_name or "")
            _save(state_key, data, quick)
            written = store.open_store(state_key, fresh=True) if open_written else None
            if written is not None:
                return None, written
        return (quick.full() if quick else data), None

    def rebuild() -> dict:
        return _without_gc(from_sources)[0]

    state = store.key(bundled_hash, overlay_hash, overlay_name or "")
    cached = store.open_store(state) if use_cache else None
    if cached is None and use_cache and overlay_path is None:
        # the wheel's prebuilt store: trusted only as far as the cache's is (key and checksums)
        packaged = os.path.join(os.path.dirname(bundled), store.PACKAGED_STORE)
        if os.path.isfile(packaged):
            cached = store.open_store(state, packaged)
    if cached is not None:
        return KnowledgeBase(cached.data, overlay_path, status, store=cached, rebuild=rebuild)
    # answer from the store just written, as the next run will: its search index is built,
    # where a dict would need a second, in-memory one
    data, written = _without_gc(from_sources, True)
    if written is not None:
        return KnowledgeBase(written.data, overlay_path, status, store=written, rebuild=rebuild)
    return KnowledgeBase(data, overlay_path, status)


def _without_gc(func, *args):
    """Call func with the cyclic garbage collector paused: a rebuild makes some 100,000 dicts
    and lists and no cycles, and each collection pass would walk them all again (a fifth of a
    5,000-cause rebuild went to it)."""
    import gc

    was = gc.isenabled()
    gc.disable()
    try:
        return func(*args)
    finally:
        if was:
            gc.enable()


def _save(state_key: str, data: dict, quick: chunks.Built | None = None) -> None:
    """Write the store; `quick` is what chunks.build computed (its causes are cut short)."""
    from . import match, search

    def tables(name: str) -> list[dict]:
        return data.get(name) or []

    if quick:

        def rows():
            return search.rows(tables, quick.row_of)

        store.write_store(state_key, data, quick.index_text, rows, quick.bodies)
        return
    store.write_store(
        state_key, data, match.index_text(data.get("causes", [])), lambda: search.rows(tables)
    )
