"""Compile the gettext catalogues (`.po` -> `.mo`) under src/regflow/locale, or check them.

    python scripts/i18n.py compile   # after editing a .po file
    python scripts/i18n.py check     # exit 1 when a .mo does not match its .po (tests call this)

The `.mo` files are committed so that an installed regflow needs no build step and no Babel at
run time; this script (Babel, a dev dependency) is the only way they are written.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE = Path(__file__).resolve().parent.parent / "src" / "regflow" / "locale"


def compiled(po_path: Path) -> bytes:
    """The `.mo` bytes for one `.po` file (fuzzy entries are left out, as msgfmt does)."""
    with po_path.open("rb") as fp:
        catalog = read_po(fp)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def stale() -> list[Path]:
    """The `.po` files whose `.mo` is missing or differs from a fresh compile."""
    result = []
    for po in sorted(LOCALE.glob("*/LC_MESSAGES/*.po")):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != compiled(po):
            result.append(po)
    return result


def main(argv: list[str]) -> int:
    """Run `compile` or `check`."""
    command = argv[1] if len(argv) > 1 else "compile"
    if command == "compile":
        for po in sorted(LOCALE.glob("*/LC_MESSAGES/*.po")):
            po.with_suffix(".mo").write_bytes(compiled(po))
            print(f"compiled {po.relative_to(LOCALE.parent.parent.parent)}")
        return 0
    if command == "check":
        bad = stale()
        for po in bad:
            where = po.relative_to(LOCALE.parent.parent.parent)
            print(f"stale: {where}; run scripts/i18n.py compile")
        return 1 if bad else 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
