"""Rendered-output cache (issue 18): a repeated query prints the bytes it printed last time.

Rich and Typer cost several times a bare interpreter start; a reference tool is asked the same
question (`leuko causes`, `leuko refs`, `leuko --help`) many times. A run whose output depends
only on its arguments and state is recorded on its first run and replayed after, without
importing either. The key is a blake2b of everything the output can depend on:

- the arguments, exactly as given;
- the environment, all of it except a few variables that change with no effect on output
  (PWD, OLDPWD, SHLVL, `_`): colour, width, locale, LEUKO_* and XDG paths are all in it;
- whether stdout is a terminal, and its size when it is; stdout's encoding and error mode;
- the KB state (the bundled KB's and the overlay's content hashes: remembered with the file's
  stat signature, as the KB store does, else read and hashed now) and the config file's bytes,
  for every run, help included (`causes --search -h` is a query);
- the code: each module's size and mtime, Python's version, and the installed Rich, Typer and
  Click distributions.

A state that cannot be keyed (no cache directory, an unreadable KB, overlay or config) is not
cached. Only runs that exit 0 are recorded, and only when everything they wrote
went through `sys.stdout.write`/`sys.stderr.write` (a pager, or a write through the binary
buffer or the fd, taints the record). Commands that read files or stdin, write files, change
settings or depend on the clock are never cached (`_cacheable`). A record carries a crc32 of
its text and is ignored when it does not match; records are written to a temp file and moved
into place, and only the newest `KEEP` are kept. LEUKO_NO_OUTPUT_CACHE=1 turns it off
(LEUKO_NO_CACHE turns off every cache).
"""

from __future__ import annotations

import os
import sys
from zlib import crc32

KEEP = 256
MAGIC = b"leuko-output-1"
VOLATILE_ENV = frozenset({"PWD", "OLDPWD", "SHLVL", "_"})
CACHED_COMMANDS = frozenset(
    {
        "assess",
        "causes",
        "refs",
        "classify",
        "workup",
        "manage",
        "scales",
        "mascc",
        "search",
        "meds",
        "schema",
        "help",
        "kb",
    }  # fmt: skip
)
# options that read a file or stdin, or write a file: their answer depends on more than argv
FILE_OPTIONS = ("--input", "--fhir", "--file", "--output", "--svg", "-f", "-o")
GLOBAL_OPTIONS = {"--color": True, "--no-pager": False}  # option -> takes a value


def _is_help(argv: list[str]) -> bool:
    """Help and version text: Click answers them before any command runs or the KB loads."""
    return any(token in ("--help", "-h", "--version", "-V") for token in argv)


def _cacheable(argv: list[str]) -> bool:
    if _is_help(argv):
        return True
    words = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if token in GLOBAL_OPTIONS:
            i += 2 if GLOBAL_OPTIONS[token] else 1
            continue
        words.append(token)
        i += 1
    if not words or words[0] not in CACHED_COMMANDS:
        return False
    if words[0] == "kb" and words[1:2] != ["info"]:
        return False  # kb check/export/path read or name files
    for token in words:
        if token == "-" or token.split("=", 1)[0] in FILE_OPTIONS:
            return False
        if token.startswith("-") and not token.startswith("--") and len(token) > 2:
            if token[:2] in FILE_OPTIONS:  # -ofile
                return False
    return True


def _code_signature() -> list:
    here = os.path.dirname(os.path.abspath(__file__))
    files = []
    for root, dirs, names in os.walk(here):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(names):
            if name.endswith(".py"):
                info = os.stat(os.path.join(root, name))
                files.append((name, info.st_size, info.st_mtime_ns))
    dists = []
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        dists += [n for n in names if n.startswith(("rich-", "typer-", "click-"))]
    return [sys.version, sorted(dists), files]


def _kb_state() -> list | None:
    """The bundled KB's and the overlay's content hashes (remembered, else hashed now); None
    when a file cannot be read (the command itself then says what is wrong)."""
    from . import paths
    from .kb_state import BUNDLED_MEMO, OVERLAY_MEMO, bundled_file, current_hash

    overlay = paths.overlay_file()
    try:
        state = [current_hash(bundled_file(), BUNDLED_MEMO)]
        if not os.path.lexists(overlay):
            return state + [None]
        return state + [current_hash(overlay, OVERLAY_MEMO)]
    except OSError:
        return None


def _config_bytes() -> bytes | None:
    from . import paths
    from .kb_state import regular_or_absent

    if not regular_or_absent(paths.config_file()):
        return None  # not keyed: the command itself says what is wrong
    try:
        with open(paths.config_file(), "rb") as fh:
            return fh.read(1 << 20)
    except FileNotFoundError:
        return b""
    except OSError:
        return None


def record_path(argv: list[str]) -> str | None:
    """Where this run's output is recorded, or None when it is not to be cached."""
    from . import paths

    base = paths.cache_root()
    if os.environ.get("LEUKO_NO_OUTPUT_CACHE"):
        return None
    stdout = sys.stdout
    if base is None or stdout is None or sys.stderr is None or not _cacheable(argv):
        return None
    state = _kb_state()  # in the key even for help: `--search -h` is a query, not help
    config = _config_bytes()
    if state is None or config is None:
        return None
    try:
        terminal = stdout.isatty()
        size = tuple(os.get_terminal_size(stdout.fileno())) if terminal else None
    except (OSError, ValueError, AttributeError):
        return None
    env = sorted((k, v) for k, v in os.environ.items() if k not in VOLATILE_ENV)
    parts = [
        argv, env, terminal, size, getattr(stdout, "encoding", None),
        getattr(stdout, "errors", None), state, crc32(config), len(config), _code_signature(),
    ]  # fmt: skip
    from .kb_state import content_hash

    # repr of lists of str, int, tuples and None is exact and stable within one Python version
    name = content_hash(repr(parts).encode("utf-8", "surrogatepass"))
    return os.path.join(base, "output", name + ".out")


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def read_record(path: str) -> tuple[str, str] | None:
    """(stdout text, stderr text) of a record that checks out; None otherwise."""
    from .kb_state import read_regular

    try:
        data = read_regular(path)  # a FIFO in its place: not waited on
        head, _, body = data.partition(b"\n")
        magic, out_len, crc = head.split(b" ")
        if magic != MAGIC or crc32(body) != int(crc):
            return None
        out, err = body[: int(out_len)], body[int(out_len) :]
        return out.decode("utf-8", "surrogatepass"), err.decode("utf-8", "surrogatepass")
    except (OSError, ValueError):
        return None


def write_record(path: str, out: str, err: str) -> None:
    """Record atomically (temp file, then os.replace); a failure leaves no file behind."""
    body = _encode(out) + _encode(err)
    head = b"%s %d %d\n" % (MAGIC, len(_encode(out)), crc32(body))
    directory = os.path.dirname(path)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(directory, exist_ok=True)
        with open(tmp, "wb") as fh:
            fh.write(head + body)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return
    _prune(directory)


def _prune(directory: str) -> None:
    try:
        with os.scandir(directory) as entries:
            records = [e for e in entries if e.name.endswith(".out")]
        if len(records) <= KEEP:
            return
        records.sort(key=lambda e: e.stat().st_mtime_ns, reverse=True)
        for old in records[KEEP:]:
            os.unlink(old.path)
    except OSError:
        pass  # another process pruned first


class Recorder:
    """Stands in for stdout or stderr while a run is recorded: every write goes to the real
    stream first, then into the record. Anything that could write around it (the binary
    buffer, the fd) taints the record instead of being followed."""

    def __init__(self, stream, tainted: list) -> None:
        self._stream, self._tainted, self.parts = stream, tainted, []

    def write(self, text):
        try:
            written = self._stream.write(text)
        except BaseException:
            if isinstance(text, str):  # a closed pipe (`| head`) stopped the output part-way
                self._tainted.append("write failed")
            raise  # (bytes: Click probing for a binary stream; nothing was written)
        if isinstance(text, str):
            self.parts.append(text)
        else:  # pragma: no cover - a text stream refuses bytes before this
            self._tainted.append("bytes")
        return written

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BaseException:
            self._tainted.append("flush failed")
            raise

    def __getattr__(self, name):
        if name in ("buffer", "fileno", "detach", "writelines", "raw"):
            self._tainted.append(name)
        return getattr(self._stream, name)


def taint(reason: str) -> None:
    """Mark the run being recorded (if any) as not replayable, e.g. when a pager ran."""
    stdout = sys.stdout
    if isinstance(stdout, Recorder):
        stdout._tainted.append(reason)


def run(argv: list[str], runner) -> int:
    """Replay a recorded answer, or run `runner(argv)` (an exit code) and record it."""
    path = record_path(argv)
    if path is None:
        return runner(argv)
    record = read_record(path)
    if record is not None:
        from .errors import run_guarded

        def replay() -> int:
            sys.stdout.write(record[0])
            if record[1]:
                sys.stderr.write(record[1])
            return 0

        return run_guarded(replay)
    tainted: list = []
    real_out, real_err = sys.stdout, sys.stderr
    out, err = Recorder(real_out, tainted), Recorder(real_err, tainted)
    sys.stdout, sys.stderr = out, err
    try:
        code = runner(argv)
    finally:
        if sys.stdout is out:
            sys.stdout = real_out
        if sys.stderr is err:
            sys.stderr = real_err
    if code == 0 and not tainted:
        write_record(path, "".join(out.parts), "".join(err.parts))
    return code
