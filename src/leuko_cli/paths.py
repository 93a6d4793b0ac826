"""Where leuko keeps user files: platformdirs' dirs, overridable for tests and managed setups.

LEUKO_CONFIG_DIR, LEUKO_DATA_DIR and LEUKO_CACHE_DIR replace the platform directories;
LEUKO_NO_CACHE=1 disables the KB cache.
"""

from __future__ import annotations

import os
from pathlib import Path

APP = "leuko"


def _platform(kind: str) -> Path:
    import platformdirs  # small, but only needed when a user dir is touched

    return Path(getattr(platformdirs, f"user_{kind}_dir")(APP, appauthor=False))


def config_dir() -> Path:
    env = os.environ.get("LEUKO_CONFIG_DIR")
    return Path(env) if env else _platform("config")


def data_dir() -> Path:
    env = os.environ.get("LEUKO_DATA_DIR")
    return Path(env) if env else _platform("data")


def cache_dir() -> Path | None:
    if os.environ.get("LEUKO_NO_CACHE"):
        return None
    env = os.environ.get("LEUKO_CACHE_DIR")
    return Path(env) if env else _platform("cache")


def config_path() -> Path:
    return config_dir() / "config.toml"


def overlay_path() -> Path:
    return data_dir() / "overlay.toml"
