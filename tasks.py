"""The project's two commands, needing only Python 3.11+ (and npm for the OIDC provider in tests).

    python3 tasks.py demo       # the web registration demo on 127.0.0.1 (SQLite, simulated bank)
    python3 tasks.py test       # the whole test suite
    python3 tasks.py demo-cli   # the same registration in a terminal

Each creates `.venv/` on first use and installs what it needs into it; later runs reuse it and
only reinstall when `pyproject.toml` changed. Extra arguments go to the demo or to pytest.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
OIDC_PROVIDER = ROOT / "tests" / "oidc_provider"


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


def ensure_node_packages() -> None:
    """Install the test OIDC provider's pinned npm packages (from its lockfile)."""
    lock = OIDC_PROVIDER / "package-lock.json"
    if not lock.exists():
        return
    stamp = OIDC_PROVIDER / "node_modules" / ".lock-sha256"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    npm = "npm.cmd" if os.name == "nt" else "npm"
    run(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error", cwd=OIDC_PROVIDER)
    stamp.write_text(digest)


def main(argv: list[str]) -> int:
    """Dispatch `demo`, `demo-cli` or `test`."""
    if len(argv) < 2 or argv[1] not in {"demo", "demo-cli", "test"}:
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
    ensure_venv("dev")
    ensure_node_packages()
    result = subprocess.run([str(PYTHON), "-m", "pytest", *rest], cwd=ROOT, check=False)  # noqa: S603
    if result.returncode == 5:  # pytest collected no tests: a broken run, not a green one
        print("tasks.py: pytest ran no tests", file=sys.stderr)
        return 1
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv))
