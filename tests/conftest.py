"""Deterministic output and isolated user dirs for every test (never the real home)."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# No per-example deadline: on a loaded 2-core machine a slow example is not a failure (the
# properties are about answers, not speed; timing lives in benchmarks/).
settings.register_profile("leuko", deadline=None)
settings.load_profile("leuko")

# Fixed width, no colour: Rich output is the same on every machine and in CI.
os.environ["COLUMNS"] = "100"
os.environ["NO_COLOR"] = "1"
os.environ.pop("FORCE_COLOR", None)
for key in ("LEUKO_UNIT", "LEUKO_CTCAE_VERSION", "LEUKO_REGION", "LEUKO_AUDIENCE"):
    os.environ.pop(key, None)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    """Each test gets its own config, data and cache dirs."""
    for kind in ("CONFIG", "DATA", "CACHE"):
        d = tmp_path / kind.lower()
        monkeypatch.setenv(f"LEUKO_{kind}_DIR", str(d))
    monkeypatch.delenv("LEUKO_NO_CACHE", raising=False)
    return tmp_path


@pytest.fixture
def kb():
    from leuko_cli import kb as kbmod

    return kbmod.load(overlay=False, use_cache=False)


@pytest.fixture
def runner():
    from typer.testing import CliRunner

    return CliRunner()


@pytest.fixture
def invoke(runner):
    """Run the CLI in-process; returns the Result (stdout and stderr separate)."""
    from leuko_cli.cli import app

    def run(*args: str, **kw):
        return runner.invoke(app, list(args), prog_name="leuko", **kw)

    return run
