"""Where the bundled KB is, and the content hashes remembered for it and the overlay.

Outside the `kb` package on purpose: the rendered-output cache (output_cache.py) keys a run by
these hashes before anything else is imported, and importing `leuko_cli.kb` loads the store
and its sqlite module.

Hashing a 5 MB overlay costs more than the rest of a cached query. As git does for its index,
a file's content hash is remembered with its stat signature (path, size, mtime, ctime, inode,
device) and reused while the signature is unchanged. On POSIX any write changes ctime, which
no user call can set back. kb/load.py writes the memos (and declines to for a file changed in
the last moments, so a coarse timestamp cannot hide a same-size edit).
"""

from __future__ import annotations

import os

from . import paths

OVERLAY_MEMO = "overlay-hash.json"
BUNDLED_MEMO = "bundled-hash.json"


def bundled_file() -> str:
    """The KB shipped with the package; in an editable install, the repo-root data/ file."""
    here = os.path.dirname(os.path.abspath(__file__))
    packaged = os.path.join(here, "data", "causes.toml")
    if os.path.isfile(packaged):
        return packaged
    return os.path.join(
        os.path.dirname(os.path.dirname(os.path.realpath(here))), "data", "causes.toml"
    )


def blake2b():
    # a content hash without importing hashlib's OpenSSL backend (~2 ms per run)
    try:
        from _blake2 import blake2b as new
    except ImportError:  # pragma: no cover - other interpreters
        from hashlib import blake2b as new
    return new(digest_size=32)


def content_hash(data: bytes) -> str:
    digest = blake2b()
    digest.update(data)
    return digest.hexdigest()


def current_hash(path: str, memo: str) -> str:
    """The file's content hash: remembered while its stat signature is unchanged (POSIX only:
    elsewhere ctime does not move on a write), else read and hashed. OSError when unreadable."""
    info = os.stat(path)
    if not _regular(info):  # a FIFO would block the open, /dev/zero never end the read
        raise OSError(f"{path}: not a regular file")
    if os.name == "posix":
        found = remembered_hash(signature(info, path), memo)
        if found is not None:
            return found
    return content_hash(read_regular(path))


def _regular(info) -> bool:
    import stat

    return stat.S_ISREG(info.st_mode)


def read_regular(path: str) -> bytes:
    """The bytes of a regular file. Opened without blocking, so a FIFO put in its place (in the
    cache directory, say) is an OSError at once instead of a wait for a writer that never
    comes; a device is refused too."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        if not _regular(os.fstat(fd)):
            raise OSError(f"{path}: not a regular file")
        with os.fdopen(fd, "rb") as fh:
            fd = -1  # the file object closes it now
            return fh.read()
    finally:
        if fd >= 0:
            os.close(fd)


def regular_or_absent(path: str) -> bool:
    """False for a FIFO, device or directory at `path` (opening a FIFO to read blocks until a
    writer comes, which may be never); True for a regular file or nothing at all."""
    try:
        return _regular(os.stat(path))
    except OSError:
        return True  # absent or unreadable: the open says which


def signature(stat, path) -> list:
    return [str(path), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino, stat.st_dev]


def remembered_hash(file_signature: list, memo: str = OVERLAY_MEMO) -> str | None:
    """The content hash remembered for a file with this signature, or None."""
    import json

    base = paths.cache_root()
    if base is None:
        return None
    try:
        record = json.loads(read_regular(os.path.join(base, memo)))
        if record.get("signature") == file_signature and isinstance(record.get("blake2b"), str):
            return record["blake2b"]
    except (OSError, ValueError, AttributeError):
        pass  # missing or damaged: hash the file
    return None
