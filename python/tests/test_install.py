"""The package installs offline, as the README says, and brings its type marker along."""
from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def test_pip_installs_it_offline_with_no_dependencies(tmp_path: Path) -> None:
    # A copy, so that the build's leftovers (build/, *.egg-info) stay out of the repository.
    source = tmp_path / "python"
    shutil.copytree(HERE, source, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__", ".pytest_cache"))
    env = tmp_path / "env"
    # System site packages only for setuptools, the build backend (--no-build-isolation).
    venv.create(env, system_site_packages=True, with_pip=False)
    python = env / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-build-isolation", "--no-index", "-q", str(source)],
        capture_output=True, text=True,
    )
    assert install.returncode == 0, install.stderr
    check = subprocess.run(
        [str(python), "-c", "import drover, pathlib; p = pathlib.Path(drover.__file__).parent; print(p, (p / 'py.typed').exists(), drover.__version__)"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert check.returncode == 0, check.stderr
    where, typed, version = check.stdout.split()
    assert where.startswith(str(env)) and typed == "True" and version == "0.1.0"
    # The Celery integration comes along (celery itself is the app's: here, Debian's).
    celery = subprocess.run(
        [str(python), "-c", "import drover.celery, drover.celery.transport, drover.celery.beat as b; print(b.__file__)"],
        capture_output=True, text=True, cwd=tmp_path,
    )
    assert celery.returncode == 0, celery.stderr
    assert celery.stdout.strip().startswith(str(env))
    assert sys.version_info >= (3, 10)


def test_the_package_is_clean_under_mypy_strict() -> None:
    # Debian's mypy (.ci/run installs it): the package ships py.typed, so its types are a promise.
    run = subprocess.run([sys.executable, "-m", "mypy", "--strict", "drover"], capture_output=True, text=True, cwd=HERE)
    assert run.returncode == 0, run.stdout + run.stderr
