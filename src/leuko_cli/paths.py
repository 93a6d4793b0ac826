"""Where leuko keeps user files: platformdirs' dirs, overridable for tests and managed setups.

LEUKO_CONFIG_DIR, LEUKO_DATA_DIR and LEUKO_CACHE_DIR replace the platform directories;
LEUKO_NO_CACHE=1 disables the KB cache.

The functions the start-up path calls (`config_file`, `overlay_file`, `cache_root`) return
strings: importing pathlib costs about 3.5 ms, and nothing else on that path needs it. The
`*_dir`/`*_path` forms return Path objects for everything else.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

APP = "leuko"

# On Linux, platformdirs applies the XDG rule below; importing platformdirs costs ~6 ms (it loads
# tempfile, shutil, urllib) on every run, so the hot path applies the same rule itself.
# tests/test_config.py checks both give the same directories.
_XDG = {
    "cache": ("XDG_CACHE_HOME", "~/.cache"),
    "config": ("XDG_CONFIG_HOME", "~/.config"),
    "data": ("XDG_DATA_HOME", "~/.local/share"),
}


def _platform(kind: str) -> str:
    if sys.platform == "linux" and "ANDROID_DATA" not in os.environ:
        var, default = _XDG[kind]
        base = os.environ.get(var, "")
        if not base.strip():
            base = os.path.expanduser(default)
        return os.path.join(base, APP)
    import platformdirs

    return getattr(platformdirs, f"user_{kind}_dir")(APP, appauthor=False)


def _dir(kind: str) -> str:
    return os.environ.get(f"LEUKO_{kind.upper()}_DIR") or _platform(kind)


def config_file() -> str:
    return os.path.join(_dir("config"), "config.toml")


def overlay_file() -> str:
    return os.path.join(_dir("data"), "overlay.toml")


def cache_root() -> str | None:
    """The cache directory, or None when LEUKO_NO_CACHE is set."""
    return None if os.environ.get("LEUKO_NO_CACHE") else _dir("cache")


def _path(text: str) -> Path:
    from pathlib import Path

    return Path(text)


def config_dir() -> Path:
    return _path(_dir("config"))


def data_dir() -> Path:
    return _path(_dir("data"))


def cache_dir() -> Path | None:
    root = cache_root()
    return None if root is None else _path(root)


def config_path() -> Path:
    return _path(config_file())


def overlay_path() -> Path:
    return _path(overlay_file())


def output_file(option: str, text: str) -> Path:
    """The file an output option (`kb export --output`, `trend --svg`) names, checked before
    anything is written: it is replaced by an atomic rename, so it must be a regular file or
    not exist yet (renaming over /dev/null or a pipe would replace the device itself)."""
    import stat

    from .errors import InputError

    if not text:
        raise InputError(f"{option} is empty; give a file name")
    path = _path(text)
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise InputError(f"{option} {text}: is a directory; give a file name")
    if mode is not None and not stat.S_ISREG(mode):
        raise InputError(
            f"{option} {text}: not a regular file (a device, pipe or socket); give a file name"
        )
    if not path.parent.is_dir():
        raise InputError(f"{option} {text}: directory {path.parent} does not exist")
    return path


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically: a temp file in the same directory, fsync'd, then
    os.replace. On any failure the temp file is removed and the old file is left untouched
    (OSError propagates to the caller, which names the file). A symbolic link is written
    through, as `>` would: the file it names is replaced, and the link stays (a config file
    kept in a dotfiles repository)."""
    import errno
    import stat
    import tempfile

    path.parent.mkdir(parents=True, exist_ok=True)  # the config directory, on first use
    if os.path.islink(path):  # its target's directory must exist, as for `>`
        path = _path(os.path.realpath(path))
    try:
        found = path.stat().st_mode
    except FileNotFoundError:
        mode = 0o644
    else:
        # callers check first (output_file, the config read); this is the last line of
        # defence: renaming over /dev/null or a pipe would replace the device itself
        if not stat.S_ISREG(found):
            raise OSError(errno.EINVAL, "not a regular file (a device, pipe or socket)")
        mode = found & 0o777
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable (POSIX); best effort elsewhere
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
