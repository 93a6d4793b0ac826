"""User settings: command-line flag > environment (LEUKO_<KEY>) > config file > default.

Pure Python. The config file is TOML in platformdirs' user config dir (see `paths`).
"""

from __future__ import annotations

import os
from pathlib import Path

from . import paths
from .errors import InputError, KBError

# key -> (default, allowed values or None for free text, description)
KEYS: dict[str, tuple[str, tuple[str, ...] | None, str]] = {
    "unit": ("cells/uL", None, "unit for counts: cells/uL or 10^9/L (and their aliases)"),
    "ctcae_version": ("6.0", ("5.0", "6.0"), "CTCAE version for grades"),
    "audience": ("clinician", ("clinician", "patient"), "wording of clinical text"),
}


def read_file(path: Path | None = None) -> dict:
    """The config file as a dict ({} when absent). A broken file raises KBError naming it."""
    path = path or paths.config_path()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise KBError(f"{path}: cannot read the config file ({err.strerror})", str(path)) from None
    import tomllib

    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise KBError(f"{path}: not valid TOML ({err}); fix it, or reset it with "
                      "`leuko config unset KEY` / delete the file", str(path)) from None
    for key, value in raw.items():
        if key not in KEYS:
            raise KBError(f"{path}: unknown key {key!r} (known: {', '.join(KEYS)}); remove it or "
                          "delete the file", str(path))
        if not isinstance(value, str):
            raise KBError(f"{path}: {key} must be a string; fix it or run "
                          f"`leuko config unset {key}`", str(path))
    return raw


def check_value(key: str, value: str) -> str:
    if key not in KEYS:
        raise InputError(f"unknown config key {key!r}; use one of: {', '.join(KEYS)}")
    allowed = KEYS[key][1]
    if allowed is not None and value not in allowed:
        raise InputError(f"{key} must be one of: {', '.join(allowed)} (got {value!r})")
    return value


def resolve(key: str, flag: str | None = None, file_values: dict | None = None) -> tuple[str, str]:
    """(value, where it came from): flag, env, config file, or default."""
    if flag is not None:
        return flag, "flag"
    env = os.environ.get(f"LEUKO_{key.upper()}")
    if env:
        return env, f"env LEUKO_{key.upper()}"
    values = read_file() if file_values is None else file_values
    if key in values:
        return values[key], "config file"
    return KEYS[key][0], "default"
