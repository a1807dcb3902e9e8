"""The project's two commands, needing only Python 3.11+ (and, for the tests, npm and Chromium).

    python3 tasks.py demo       # the web registration demo on 127.0.0.1 (SQLite, simulated bank)
    python3 tasks.py test       # the whole test suite
    python3 tasks.py demo-cli   # the same registration in a terminal
    python3 tasks.py mutate     # the mutation run (mutmut; slow: tens of minutes on 2 cores)

Each creates `.venv/` on first use and installs what it needs into it; later runs reuse it and
only reinstall when `pyproject.toml` changed. Extra arguments go to the demo, to pytest or to
`mutmut run` (`mutate --max-children 1` leaves the other core free).
`test` also installs the npm packages of the test OIDC provider and of the browser tests (from
their lockfiles) and, run as root where apt-get exists, Debian's `chromium` when it is missing
(the browser tests fail with a clear message when there is no Chromium).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
NODE_PACKAGES = (ROOT / "tests" / "oidc_provider", ROOT / "tests" / "browser")
CHROMIUM = os.environ.get("REGFLOW_CHROMIUM", "/usr/bin/chromium")


def run(*args: str | Path, cwd: Path = ROOT) -> None:
    """Run a command; stop with its exit code when it fails."""
    result = subprocess.run([str(a) for a in args], cwd=cwd, check=False)  # noqa: S603
    if result.returncode:
        sys.exit(result.returncode)


def ensure_venv(extra: str) -> None:
    """Create the virtual environment and install regflow with `extra`, when out of date."""
    if not PYTHON.exists():
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{extra}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    run(PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(PYTHON, "-m", "pip", "install", "--quiet", "-e", f".[{extra}]")
    stamp.write_text(digest)


def ensure_node_packages(folder: Path) -> None:
    """Install a test helper's pinned npm packages (from its lockfile), when out of date."""
    lock = folder / "package-lock.json"
    if not lock.exists():
        return
    stamp = folder / "node_modules" / ".lock-sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    npm = "npm.cmd" if os.name == "nt" else "npm"
    run(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error", cwd=folder)
    stamp.write_text(digest)


def ensure_chromium() -> None:
    """Install Debian's `chromium` for the browser tests when it is missing and we may (root
    with apt-get); otherwise say so, and the browser tests fail with the same advice."""
    if Path(CHROMIUM).is_file():
        return
    apt_get = shutil.which("apt-get")
    if apt_get is not None and hasattr(os, "geteuid") and os.geteuid() == 0:
        print(f"tasks.py: {CHROMIUM} is missing; installing Debian's chromium", file=sys.stderr)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for args in (
            ["update", "-qq"],
            ["install", "-y", "-qq", "--no-install-recommends", "chromium"],
        ):
            result = subprocess.run([apt_get, *args], env=env, check=False)  # noqa: S603
            if result.returncode:
                break
        if Path(CHROMIUM).is_file():
            return
    print(
        f"tasks.py: no Chromium at {CHROMIUM} and it could not be installed here: install "
        "Chromium (Debian: apt-get install chromium) or set REGFLOW_CHROMIUM to its path; "
        "the browser tests will fail until then.",
        file=sys.stderr,
    )


def main(argv: list[str]) -> int:
    """Dispatch `demo`, `demo-cli`, `test` or `mutate`."""
    if len(argv) < 2 or argv[1] not in {"demo", "demo-cli", "test", "mutate"}:
        print(__doc__)
        return 2
    command, rest = argv[1], argv[2:]
    if command == "demo":
        ensure_venv("demo")
        # examples/web on the path, the demo's defaults (REGFLOW_* variables still win)
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT / "examples" / "web"), os.environ.get("PYTHONPATH")) if p
        )
        os.execv(PYTHON, [str(PYTHON), "-m", "regflow_web", *rest])  # noqa: S606
    if command == "demo-cli":
        ensure_venv("demo")
        os.execv(PYTHON, [str(PYTHON), str(ROOT / "examples" / "cli" / "register.py"), *rest])  # noqa: S606
    if command == "mutate":
        ensure_venv("mutation")
        for folder in NODE_PACKAGES:
            ensure_node_packages(folder)
        mutmut = str(BIN / "mutmut")
        os.environ.setdefault("HYPOTHESIS_PROFILE", "mutation")
        run(mutmut, "run", *rest)
        run(mutmut, "results")  # the surviving mutants; `mutmut show NAME` shows one
        run(PYTHON, ROOT / "scripts" / "mutation_summary.py")  # the README's table
        return 0
    ensure_venv("dev")
    for folder in NODE_PACKAGES:
        ensure_node_packages(folder)
    ensure_chromium()
    result = subprocess.run([str(PYTHON), "-m", "pytest", *rest], cwd=ROOT, check=False)  # noqa: S603
    if result.returncode == 5:  # pytest collected no tests: a broken run, not a green one
        print("tasks.py: pytest ran no tests", file=sys.stderr)
        return 1
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
