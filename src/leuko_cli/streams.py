"""The standard streams, made safe to use before any command runs.

A command may start with stdin, stdout or stderr closed (`<&-`, `>&-`, `2>&-`), or with an
output encoding that cannot hold the KB's text (`PYTHONIOENCODING=ascii`, a Latin-1 locale).
Python then gives None for a closed stream, and a UnicodeEncodeError on the first `µ`; both
used to end in a traceback. `prepare()` fixes each case once, for both start-up paths:

- a closed fd 0/1/2 is reopened on /dev/null at the OS level, so a file the command opens
  later (a config temp file, the cache database) can never become fd 1 and receive output;
- stdout closed: a stream whose every write fails with EBADF, so a command that prints ends in
  the one-line "cannot write the output" (exit 4) and one that prints nothing still works;
- stdin closed: left None; readers of `-` refuse it with a one-line message (exit 2);
- stderr closed: a sink (the user asked not to see it; the exit code still tells);
- a non-Unicode stdout: characters it cannot encode are written as visible `\\xb5` escapes
  (JSON output switches to \\u escapes instead, see output.json_text, so it stays valid).
"""

from __future__ import annotations

import errno
import os
import sys


class ClosedOutput:
    """Stands in for a closed stdout: every write fails, as writing to fd 1 would."""

    encoding = "utf-8"
    errors = "strict"
    write_through = False

    def write(self, _text: str) -> int:
        raise OSError(errno.EBADF, "standard output is closed")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError(errno.EBADF, "standard output is closed")


class Sink:
    """Stands in for a closed stderr."""

    encoding = "utf-8"
    errors = "strict"

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _occupy(fd: int) -> None:
    """Put /dev/null on a closed fd so nothing opened later takes its number."""
    try:
        os.fstat(fd)
    except OSError:
        try:
            null = os.open(os.devnull, os.O_RDWR)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        except OSError:
            pass


def unicode_output(stream=None) -> bool:
    """True when the stream's encoding can hold any character (UTF-8, UTF-16, UTF-32)."""
    stream = sys.stdout if stream is None else stream
    encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("_", "-")
    if encoding.startswith("utf"):
        return True
    import codecs

    try:
        return codecs.lookup(encoding).name.startswith("utf")
    except LookupError:
        return False


def prepare() -> None:
    for fd in (0, 1, 2):
        _occupy(fd)
    if sys.stdout is None:
        sys.stdout = ClosedOutput()
    if sys.stderr is None:
        sys.stderr = Sink()
    for stream in (sys.stdout, sys.stderr):
        if not unicode_output(stream) and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):  # pragma: no cover - already written to
                pass
