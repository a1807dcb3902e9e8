"""The README's usage examples run where they stand; its state diagram is the table's own."""

from __future__ import annotations

import contextlib
import io
import re
import sys
import tomllib
from pathlib import Path

from regflow.machine import mermaid

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_usage_example_runs() -> None:
    """The usage example in the README executes as written."""
    code = re.search(r"```python\n(.*?)```", _section("Usage"), re.DOTALL)
    assert code is not None
    exec(compile(code.group(1), "README.md", "exec"), {})  # noqa: S102  # our own README


def test_error_example_runs_after_the_usage_example() -> None:
    """The Usage section's blocks run in order in one namespace; the error example prints."""
    blocks = re.findall(r"```python\n(.*?)```", _section("Usage"), re.DOTALL)
    assert len(blocks) >= 2
    namespace: dict[str, object] = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102  # our own README
    printed = out.getvalue().splitlines()
    assert printed[0] == "password too_short Salasana on liian lyhyt."
    assert "It prints `password too_short Salasana on liian lyhyt.`" in _section("Usage")


def test_state_diagram_matches_the_table() -> None:
    """The Mermaid diagram in the README is exactly what machine.mermaid() generates."""
    diagram = re.search(r"```mermaid\n(.*?)```", _section("The flow"), re.DOTALL)
    assert diagram is not None
    assert diagram.group(1).strip() == mermaid().strip()


def test_license_file_matches_pyproject() -> None:
    """LICENSE is the MIT licence that pyproject.toml declares, held by regflow developers."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert re.search(r"^Copyright \(c\) \d{4} regflow developers$", text, re.MULTILINE)
    assert "Permission is hereby granted, free of charge" in text


def test_readme_says_how_to_call_and_install_regflow() -> None:
    """The quick start names the venv's script, which exists, and a pip install with extras."""
    quick_start = _section("Quick start")
    assert "`.venv/bin/regflow`" in quick_start
    assert (Path(sys.executable).parent / "regflow").exists()  # the script the README names
    assert re.search(r'pip install "[^"]*regflow\[sql,oidc\]"', quick_start)
    assert re.search(r'pip install "regflow\[sql\] @ git\+https://', quick_start)
