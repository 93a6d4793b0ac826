"""Real processes: the installed `leuko` script, `python -m leuko_cli`, and the built wheel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _env(tmp_path):
    env = dict(os.environ)
    env.update(
        LEUKO_CACHE_DIR=str(tmp_path / "cache"),
        LEUKO_CONFIG_DIR=str(tmp_path / "cfg"),
        LEUKO_DATA_DIR=str(tmp_path / "data"),
        COLUMNS="100",
        NO_COLOR="1",
    )
    return env


def _leuko_script() -> str:
    script = Path(sys.executable).with_name("leuko")
    return str(script) if script.exists() else shutil.which("leuko")


def test_installed_script_from_another_directory(tmp_path):
    r = subprocess.run(
        [_leuko_script(), "assess", "--anc", "450", "--json"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["severity"] == "severe"


def test_python_dash_m(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "leuko_cli", "causes", "--category", "drugs"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "Clozapine" in r.stdout


def test_bad_input_in_a_real_process(tmp_path):
    r = subprocess.run(
        [_leuko_script(), "assess", "--anc", "-1"],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_piped_output_has_no_colour_codes(tmp_path):
    env = _env(tmp_path)
    env.pop("NO_COLOR")
    r = subprocess.run(
        [_leuko_script(), "assess", "--anc", "450"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "\x1b[" not in r.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    (whl,) = out.glob("leuko_cli-*.whl")
    return whl


def _install(wheel, target):
    """pip install the wheel into a directory of its own; returns the directory."""
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    return target


def test_wheel_ships_the_kb(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        assert "leuko_cli/data/causes.toml" in names
        shipped = zf.read("leuko_cli/data/causes.toml")
    assert shipped == (ROOT / "data" / "causes.toml").read_bytes()


def test_installed_wheel_finds_its_kb_from_anywhere(wheel, tmp_path):
    target = _install(wheel, tmp_path / "site")
    env = _env(tmp_path)
    env["PYTHONPATH"] = str(target)  # ahead of the editable install
    code = (
        "import leuko_cli, leuko_cli.kb as k, sys; "
        "print(leuko_cli.__file__); print(k.bundled_path())"
    )
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    module_file, kb_path = r.stdout.split()
    assert module_file.startswith(str(target)) and kb_path.startswith(str(target))
    r = subprocess.run(
        [sys.executable, "-m", "leuko_cli", "refs", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and len(json.loads(r.stdout)) >= 25


def test_the_wheel_ships_a_prebuilt_store_that_a_first_run_uses(wheel, tmp_path):
    """The first run after an install opens the wheel's store instead of building one (issue
    18); it answers as the editable install does, and a damaged copy is never trusted."""
    with zipfile.ZipFile(wheel) as zf:
        assert "leuko_cli/data/kb.sqlite" in zf.namelist()
    target = _install(wheel, tmp_path / "site")
    env = _env(tmp_path)
    env["PYTHONPATH"] = str(target)
    argv = [sys.executable, "-m", "leuko_cli", "causes", "--search", "b12", "--json"]
    first = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert not list((tmp_path / "cache").glob("kb-*.sqlite"))  # no store had to be built
    editable = subprocess.run(
        argv,
        cwd=tmp_path,
        env=dict(_env(tmp_path / "e")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert first.stdout == editable.stdout
    store = target / "leuko_cli" / "data" / "kb.sqlite"
    data = bytearray(store.read_bytes())
    data[len(data) // 2] ^= 0x10
    store.write_bytes(bytes(data))
    again = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and again.stdout == editable.stdout
