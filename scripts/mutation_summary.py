"""The mutation run's kill rate per module, as the README's table: run after `mutmut run`.

    python scripts/mutation_summary.py            # the table (markdown), from mutants/
    python scripts/mutation_summary.py --list     # and every mutant that was not killed

Run it where mutmut ran (the project root). Reads the `*.meta` files that mutmut 3.8 leaves
in `mutants/src/regflow/` (an exit code per mutant) with mutmut's own names for those codes.
A module under `policy/` counts as `policy/`. The kill rate is the killed mutants (timeouts
included: the mutant hung the tests) over all of them, so that a mutant no test covers counts
against it.
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

from mutmut.stats import status_by_exit_code

# where mutmut leaves its results: relative, like mutmut itself, to the directory it ran in
MUTANTS = Path("mutants", "src", "regflow")
ORDER = ("policy/", "machine.py", "login.py", "flow.py", "relay.py")
KILLED = frozenset({"killed", "timeout"})


def statuses() -> dict[str, dict[str, str]]:
    """Each module's mutants and their status ("killed", "survived", "no tests", ...)."""
    found: dict[str, dict[str, str]] = collections.defaultdict(dict)
    for meta in sorted(MUTANTS.rglob("*.meta")):
        name = meta.relative_to(MUTANTS).as_posix().removesuffix(".meta")
        module = "policy/" if name.startswith("policy/") else name
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        for mutant, code in codes.items():
            found[module][mutant] = status_by_exit_code[code]
    return found


def _n(number: int) -> str:
    """A count as the README writes it: thousands apart by a space (1 144)."""
    return f"{number:,}".replace(",", " ")


def main(argv: list[str]) -> int:
    """Print the table (and with --list, the mutants not killed); 1 when there is no run."""
    found = statuses()
    if not found:
        print(f"no mutation results in {MUTANTS}: run `python3 tasks.py mutate` first")
        return 1
    print("| module | mutants | killed | survived | no test covers it | kill rate |")
    print("|---|---:|---:|---:|---:|---:|")
    for module in sorted(found, key=lambda m: (ORDER.index(m) if m in ORDER else 99, m)):
        counts = collections.Counter(found[module].values())
        total = sum(counts.values())
        killed = sum(counts[s] for s in KILLED)
        other = total - killed - counts["survived"] - counts["no tests"]
        note = f" ({other} not checked or suspicious)" if other else ""
        print(
            f"| `{module}` | {_n(total)} | {_n(killed)} | {_n(counts['survived'])} | "
            f"{_n(counts['no tests'])} | {100 * killed / total:.1f}%{note} |"
        )
    if "--list" in argv:
        for module, mutants in found.items():
            for mutant, status in sorted(mutants.items()):
                if status not in KILLED:
                    print(f"{module}\t{status}\t{mutant}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
