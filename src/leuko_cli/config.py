"""User settings: command-line flag > environment (LEUKO_<KEY>) > config file > default.

Pure Python. The config file is TOML in platformdirs' user config dir (see `paths`), written
with tomli-w, atomically (temp file in the same directory, fsync, os.replace).

A broken file (not TOML, unknown key, wrong type) is never overwritten: reading it raises
KBError (exit 1) naming the file and line, and `set`/`unset` refuse until it is fixed or deleted.
A well-formed file with a value that is not valid (say `unit = "furlongs"`) is reported when the
value is used, and `leuko config set`/`unset` can repair it.
"""

from __future__ import annotations

import os
import re

from . import paths
from .errors import InputError, KBError

TYPE_CHECKING = False  # typing and pathlib stay off the start-up path (see paths.py)
if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from .kb import KnowledgeBase

# key -> (default, allowed values or None when the knowledge base decides, description)
KEYS: dict[str, tuple[str, tuple[str, ...] | None, str]] = {
    "unit": ("cells/uL", None, "unit for counts: a unit or alias from the KB units table "
                               "(cells/uL, 10^9/L, G/L, K/uL ...)"),
    "ctcae_version": ("6.0", None, "CTCAE version for grades: one of the KB's "
                                   "settings.ctcae_versions"),
    "audience": ("clinician", ("clinician", "patient"), "wording of clinical text"),
}
SOURCES = ("flag", "env", "config file", "default")
_RESET = "fix that line, or delete the file to reset every setting to its default"


def env_var(key: str) -> str:
    return f"LEUKO_{key.upper()}"


def check_key(key: str) -> str:
    if key not in KEYS:
        raise InputError(f"unknown config key {key!r}; use one of: {', '.join(KEYS)}")
    return key


def key_line(text: str, key: str) -> int | None:
    """Line of `key = ...` (or a `[key]` table header) in a TOML text, for messages."""
    k = re.escape(key)
    pattern = re.compile(rf"""^\s*(?:(["']?){k}\1\s*[=.]|\[+\s*(["']?){k}\2\s*[\].])""")
    for n, line in enumerate(text.splitlines(), start=1):
        if pattern.match(line):
            return n
    return None


def _at(path: str | Path, line: int | None) -> str:
    return f"{path}:{line}" if line else str(path)


# What `config set` writes: comments, blank lines and `key = "plain string"`. Read without
# tomllib, whose import costs about 7 ms on every command; anything else (escapes, other types,
# tables, quoted keys, a repeated key) goes to tomllib, which also words the errors.
_SIMPLE_LINE = re.compile(r'[ \t]*(?:([A-Za-z0-9_-]+)[ \t]*=[ \t]*"([^"\\\x00-\x1f\x7f]*)"[ \t]*)?'
                          r'(?:#[^\x00-\x08\x0a-\x1f\x7f]*)?')


def parse_simple(text: str) -> dict | None:
    """The config as a dict when every line is in the simple form, else None."""
    out: dict = {}
    for line in text.split("\n"):
        m = _SIMPLE_LINE.fullmatch(line[:-1] if line.endswith("\r") else line)
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
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise KBError(f"{path}: cannot read the config file ({err.strerror}); fix its "
                      "permissions, or move it away to use the defaults", str(path)) from None
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
        if key not in KEYS:
            raise KBError(f"{where}: unknown config key {key!r} (known: {', '.join(KEYS)}); "
                          f"{_RESET}", str(path))
        if not isinstance(value, str) or not value.strip():
            raise KBError(f"{where}: {key} must be a non-empty string, e.g. "
                          f'{key} = "{KEYS[key][0]}"; {_RESET}', str(path))
    return raw


def write_file(values: dict, path: Path | None = None) -> Path:
    """Write the settings atomically; on failure the old file is left as it was."""
    import tomli_w

    path = path or paths.config_path()
    body = tomli_w.dumps({k: values[k] for k in KEYS if k in values})
    header = "# leuko settings: edit with `leuko config set KEY VALUE` / `leuko config unset KEY`\n"
    try:
        paths.write_atomic(path, (header + body).encode("utf-8"))
    except OSError as err:
        raise KBError(f"{path}: cannot write the config file ({err.strerror or err}); "
                      "the old file is unchanged", str(path)) from None
    return path


def check_value(key: str, value: str, kb: KnowledgeBase | None = None) -> str:
    """Validate a value for `key` and return its normal form (InputError when refused).

    `unit` and `ctcae_version` are checked against the knowledge base when one is given
    (a unit alias becomes the unit's id); without one only the static choices are checked."""
    check_key(key)
    allowed = KEYS[key][1]
    if allowed is not None:
        wanted = value.strip().lower()
        if wanted not in allowed:
            raise InputError(f"{key} must be one of: {', '.join(allowed)} (got {value!r})")
        return wanted
    if kb is None:
        return value
    from . import grading

    if key == "unit":
        return grading.find_unit(kb, value)["id"]
    if key == "ctcae_version":
        return grading.check_ctcae_version(kb, value)
    return value  # pragma: no cover - every key is handled above


def resolve(key: str, flag: str | None = None, file_values: dict | None = None) -> tuple[str, str]:
    """(value, where it came from): flag, env LEUKO_<KEY>, config file, or default."""
    if flag is not None:
        return flag, "flag"
    env = os.environ.get(env_var(key))
    if env:
        return env, f"env {env_var(key)}"
    values = read_file() if file_values is None else file_values
    if key in values:
        return values[key], "config file"
    return KEYS[key][0], "default"


# settings whose default comes from the KB's [settings] table (an overlay may change them)
KB_DEFAULTS = {"unit": "default_unit", "ctcae_version": "ctcae_default_version"}


def setting(key: str, flag: str | None = None, kb: KnowledgeBase | None = None) -> str:
    """The effective value of a setting. A bad value from the environment or the config file
    is refused with a message that names where it came from (the flag itself is validated by
    the command that uses it)."""
    value, source = resolve(key, flag)
    if source == "default" and kb is not None and key in KB_DEFAULTS:
        return kb.settings[KB_DEFAULTS[key]]  # the knowledge base owns clinical defaults
    if source in ("flag", "default"):
        return value
    try:
        return check_value(key, value, kb)
    except InputError as err:
        if source == "config file":
            path = paths.config_path()
            try:
                line = key_line(path.read_text("utf-8"), key)
            except (OSError, UnicodeDecodeError):
                line = None
            raise KBError(f"{_at(path, line)}: {err}; fix it with `leuko config set {key} VALUE`"
                          f" or `leuko config unset {key}`", str(path)) from None
        raise InputError(f"{env_var(key)}={value!r}: {err}; change or unset {env_var(key)}") \
            from None


def show() -> list[dict]:
    """Every setting with its effective value, where it came from, and its description."""
    values = read_file()
    rows = []
    for key, (default, _allowed, description) in KEYS.items():
        value, source = resolve(key, None, values)
        rows.append({"key": key, "value": value, "source": source, "default": default,
                     "description": description})
    return rows


def get(key: str) -> dict:
    check_key(key)
    value, source = resolve(key, None)
    return {"key": key, "value": value, "source": source}


def set_value(key: str, value: str, kb: KnowledgeBase | None = None) -> tuple[str, Path]:
    """Validate and store one setting; a refused value leaves the file byte-identical."""
    check_key(key)
    values = read_file()  # a broken file refuses here, before anything is written
    normal = check_value(key, value, kb)
    values[key] = normal
    return normal, write_file(values)


def unset_value(key: str) -> bool:
    """Remove one setting (back to env/default). False when it was not set."""
    check_key(key)
    values = read_file()
    if key not in values:
        return False
    del values[key]
    write_file(values)
    return True
