"""The README's usage example runs, and its state diagram is the one the table generates."""

from __future__ import annotations

import re
from pathlib import Path

from regflow.machine import mermaid

README = Path(__file__).resolve().parents[2] / "README.md"


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


def test_state_diagram_matches_the_table() -> None:
    """The Mermaid diagram in the README is exactly what machine.mermaid() generates."""
    diagram = re.search(r"```mermaid\n(.*?)```", _section("The flow"), re.DOTALL)
    assert diagram is not None
    assert diagram.group(1).strip() == mermaid().strip()
