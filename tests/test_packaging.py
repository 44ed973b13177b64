"""`pip install .` (not editable) ships the built-in format and rule packs inside the package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

# Under pytest-xdist (--dist loadgroup) the whole module runs in one worker: one wheel build (a module
# fixture) serves all its tests.
pytestmark = pytest.mark.xdist_group("packaging")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        cwd=out,
    )
    # The isolated build fetches pyproject.toml's build backend (setuptools>=77) from the package
    # index at test time: without the index that is a skip saying so, not a failure. (A build
    # requirement that cannot be met at all also fails `pip install -e .` before the tests run.)
    if built.returncode != 0 and "install build dependencies" in built.stderr:
        reasons = [line.strip() for line in built.stderr.splitlines() if "ERROR:" in line]
        pytest.skip(f"pip could not install the build backend: {(reasons or ['no reason given'])[-1]}")
    assert built.returncode == 0, built.stderr
    return next(out.glob("logscope-*.whl"))


@pytest.mark.slow
def test_wheel_contains_every_format_and_rule_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, package in (("parsers", "logscope/builtin/parsers"), ("rules", "logscope/builtin/rules")):
        shipped = sorted(p.relative_to(REPO / folder) for p in (REPO / folder).rglob("*.toml"))
        assert shipped, f"{folder}/ has no TOML files"
        for path in shipped:
            assert f"{package}/{path.as_posix()}" in names


@pytest.mark.slow
def test_installed_wheel_finds_its_packs_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel)],
        check=True,
        capture_output=True,
    )
    probe = (
        "import importlib.resources as r, logscope;"
        "print(logscope.__file__);"
        "print(sum(1 for f in r.files('logscope.builtin.parsers').iterdir() if f.name.endswith('.toml')));"
        "print(sum(1 for f in r.files('logscope.builtin.rules').iterdir() if f.name.endswith('.toml')))"
    )
    out = subprocess.run(
        [str(python), "-c", probe], check=True, capture_output=True, text=True, cwd=tmp_path
    ).stdout.split()
    assert out[0].startswith(str(venv)), "imported the checkout instead of the installed package"
    assert int(out[1]) > 0 and int(out[2]) > 0
