"""Settings resolved once: command-line flag > environment LEUKO_<KEY> > config file > default.

The defaults are not written in code: each comes from the knowledge base's [settings] table
(so an overlay that changes the default CTCAE version changes `config get` and `assess`
alike), and every resolved value carries its origin for the output to name.
"""

from __future__ import annotations

import os

from . import config
from .errors import InputError, KBError, check_choice, nearest
from .fields import AUDIENCES, BY_NAME, SETTINGS_KEYS

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from .kb import KnowledgeBase

# settings key -> the KB [settings] entry holding its default
KB_DEFAULTS = {
    "unit": "default_unit",
    "ctcae_version": "ctcae_default_version",
    "region": "default_region",
    "audience": "default_audience",
}


class Setting:
    __slots__ = ("key", "value", "origin")

    def __init__(self, key: str, value: str, origin: str) -> None:
        self.key, self.value, self.origin = key, value, origin

    def as_dict(self) -> dict:
        return {"value": self.value, "origin": self.origin}


def env_var(key: str) -> str:
    return f"LEUKO_{key.upper()}"


def check_key(key: str) -> str:
    check_choice("config key", key, SETTINGS_KEYS)
    return key


def describe(key: str) -> str:
    return BY_NAME[key].help


def normalise(kb: KnowledgeBase, key: str, value: str) -> str:
    """The normal form of a value for `key` (InputError when refused)."""
    from . import grading, inputs

    if key == "unit":
        return inputs.find_unit(kb, value)["id"]
    if not isinstance(value, str):  # a JSON number or true in a batch row: not guessed at
        raise InputError(f"expects text, got {value!r}; write it in quotes")
    if key == "ctcae_version":
        return grading.check_ctcae_version(kb, value)
    if key == "region":
        return grading.check_region(kb, value)
    wanted = value.strip().lower()
    if wanted not in AUDIENCES:
        raise InputError(
            f"audience must be one of: {', '.join(AUDIENCES)} (got {value!r})"
            f"{nearest(value, AUDIENCES)}"
        )
    return wanted


def default(kb: KnowledgeBase, key: str) -> Setting:
    entry = KB_DEFAULTS[key]
    origin = getattr(kb, "settings_origin", {}).get(entry, "bundled")
    where = "default" if origin == "bundled" else f"default from your {origin}"
    return Setting(key, kb.settings[entry], where)


def resolve(
    kb: KnowledgeBase, key: str, flag: str | None = None, file_values: dict | None = None
) -> Setting:
    """One setting, validated, with its origin. A bad value names where it came from."""
    if flag is not None:
        try:
            return Setting(key, normalise(kb, key, flag), "flag")
        except InputError as err:
            raise InputError(f"{BY_NAME[key].flag}: {err}") from None
    env = os.environ.get(env_var(key))
    if env is not None and env.strip():
        try:
            return Setting(key, normalise(kb, key, env), f"environment {env_var(key)}")
        except InputError as err:
            raise InputError(
                f"{env_var(key)}={env!r}: {err}; change or unset {env_var(key)}"
            ) from None
    values = config.read_file() if file_values is None else file_values
    if key in values:
        try:
            return Setting(
                key, normalise(kb, key, values[key]), f"config file {config.location(key)}"
            )
        except InputError as err:
            raise KBError(
                f"{config.location(key)}: {err}; fix it with `leuko config set {key} "
                f"VALUE` or `leuko config unset {key}`",
                config.config_file(),
            ) from None
    return default(kb, key)


def resolve_all(
    kb: KnowledgeBase, flags: dict[str, str | None] | None = None
) -> dict[str, Setting]:
    """Every setting at once (the config file is read once)."""
    flags = flags or {}
    values = None if all(flags.get(k) is not None for k in SETTINGS_KEYS) else config.read_file()
    return {k: resolve(kb, k, flags.get(k), values or {}) for k in SETTINGS_KEYS}
