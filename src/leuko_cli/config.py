"""The config file: reading, and locked atomic writes. Resolution lives in `settings.py`.

The file is TOML in the user config dir (see `paths`), written with tomli-w atomically (temp
file in the same directory, fsync, os.replace) while holding an exclusive lock on a sibling
lock file, so concurrent `leuko config set` runs of different keys keep every key.

A broken file (not TOML, unknown key, wrong type) is never overwritten: reading it raises
KBError (exit 3) naming the file and line, and `set`/`unset` refuse until it is fixed or
deleted. A well-formed file with a value that is not valid (say `unit = "furlongs"`) is
reported when the value is used, and `leuko config set`/`unset` can repair it.
"""

from __future__ import annotations

import re

from . import paths
from .errors import KBError
from .fields import SETTINGS_KEYS

TYPE_CHECKING = False  # typing and pathlib stay off the start-up path (see paths.py)
if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

MAX_CONFIG_BYTES = 1 << 20  # three settings take under 200 bytes
_RESET = "fix that line, or delete the file to reset every setting to its default"


def config_file() -> str:
    return paths.config_file()


def key_line(text: str, key: str) -> int | None:
    """Line of `key = ...` (or a `[key]` table header) in a TOML text, for messages."""
    k = re.escape(key)
    pattern = re.compile(rf"""^\s*(?:(["']?){k}\1\s*[=.]|\[+\s*(["']?){k}\2\s*[\].])""")
    # TOML lines end at LF only: str.splitlines also ends one at U+2028, U+0085, a form feed...
    for n, line in enumerate(text.split("\n"), start=1):
        if pattern.match(line):
            return n
    return None


def _at(path: str | Path, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)


# What `config set` writes: comments, blank lines and `key = "plain string"`. Read without
# tomllib, whose import costs about 7 ms on every command; anything else (escapes, other types,
# tables, quoted keys, a repeated key) goes to tomllib, which also words the errors.
_SIMPLE_LINE = (
    r'[ \t]*(?:([A-Za-z0-9_-]+)[ \t]*=[ \t]*"([^"\\\x00-\x1f\x7f]*)"[ \t]*)?'
    r"(?:#[^\x00-\x08\x0a-\x1f\x7f]*)?"
)


def parse_simple(text: str) -> dict | None:
    """The config as a dict when every line is in the simple form, else None."""
    out: dict = {}
    simple_line = re.compile(_SIMPLE_LINE)  # compiled only when a config file exists
    lines = text.split("\n")
    for n, line in enumerate(lines, 1):
        # a CR ends a line only before its LF: one at the very end is a bare CR (tomllib
        # refuses it, and words the error)
        m = simple_line.fullmatch(line[:-1] if line.endswith("\r") and n < len(lines) else line)
        if m is None:
            return None
        key, value = m.groups()
        if key is not None:
            if key in out:
                return None
            out[key] = value
    return out


def read_file(path: str | Path | None = None) -> dict:
    """The config file as a dict ({} when absent). A broken file raises KBError naming it."""
    path = path or paths.config_file()
    from .kb_state import regular_or_absent

    if not regular_or_absent(str(path)):  # a FIFO: the open would wait for a writer
        raise KBError(
            f"{path}: cannot read the config file (not a regular file); move it away to use "
            "the defaults",
            str(path),
        )
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)  # bounded: the path may be /dev/zero
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise KBError(
            f"{path}: cannot read the config file ({err.strerror}); fix its "
            "permissions, or move it away to use the defaults",
            str(path),
        ) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise KBError(
            f"{path}: larger than {MAX_CONFIG_BYTES} bytes, not a leuko config file; {_RESET}",
            str(path),
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    raw = parse_simple(text) if text is not None else None
    if raw is None:
        from .kb import toml_problem

        raw, problem = toml_problem(data, str(path))  # words the error, including bad UTF-8
        if problem is not None:
            raise KBError(f"{problem}; {_RESET}", str(path))
    for key, value in raw.items():
        where = _at(path, key_line(text, key))
        if key not in SETTINGS_KEYS:
            known = ", ".join(SETTINGS_KEYS)
            raise KBError(
                f"{where}: unknown config key {key!r} (known: {known}); {_RESET}", str(path)
            )
        if not isinstance(value, str) or not value.strip():
            raise KBError(
                f'{where}: {key} must be a non-empty string, e.g. {key} = "VALUE"; {_RESET}',
                str(path),
            )
    return raw


def write_file(values: dict, path: Path | None = None) -> Path:
    """Write the settings atomically; on failure the old file is left as it was."""
    import tomli_w

    path = path or paths.config_path()
    body = tomli_w.dumps({k: values[k] for k in SETTINGS_KEYS if k in values})
    header = "# leuko settings: edit with `leuko config set KEY VALUE` / `leuko config unset KEY`\n"
    try:
        paths.write_atomic(path, (header + body).encode("utf-8"))
    except OSError as err:
        raise KBError(
            f"{path}: cannot write the config file ({err.strerror or err}); "
            "the old file is unchanged",
            str(path),
        ) from None
    return path


def location(key: str) -> str:
    """`PATH:LINE` of a key in the config file (`PATH` when the line cannot be found)."""
    path = paths.config_file()
    try:
        with open(path, encoding="utf-8") as fh:
            return _at(path, key_line(fh.read(), key))
    except (OSError, UnicodeDecodeError):
        return path


def update(change) -> Path:
    """Read, change and write the config file under an exclusive lock, so that concurrent
    updates of different keys all survive. `change(values)` edits the dict in place (and may
    raise to refuse: the file is then left as it was). Returns the file's path."""
    from contextlib import nullcontext

    path = paths.config_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise KBError(
            f"{path.parent}: cannot create the config directory ({err.strerror}); "
            "nothing was written",
            str(path),
        ) from None
    with _locked(str(path.parent)) if _can_lock() else nullcontext():
        values = read_file(path)  # a broken file refuses here, before anything is written
        before = dict(values)
        change(values)
        if values != before:
            write_file(values, path)
    return path


def _can_lock() -> bool:
    try:
        import fcntl  # noqa: F401  (POSIX)
    except ImportError:  # pragma: no cover - Windows: atomic replace without a lock
        return False
    return True


def _locked(directory: str):
    """fcntl.flock on the config directory itself (the standard library's POSIX lock). The
    file is replaced on every write, so its own inode cannot be the lock; the directory's
    stays the same, and no lock file is left behind."""
    import fcntl
    import os
    from contextlib import contextmanager

    @contextmanager
    def hold():
        fd = os.open(directory, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    return hold()
