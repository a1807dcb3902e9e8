"""Compile the gettext catalogues (`.po` -> `.mo`), check them, or extract the web's strings.

    python scripts/i18n.py compile       # after editing a .po file
    python scripts/i18n.py check         # exit 1 when a .mo differs from its .po (tests call it)
    python scripts/i18n.py extract-web   # the web example's templates -> regflow_web.pot, merged
                                         # into its sv and fi catalogues (new entries untranslated)

Catalogues live in src/regflow/locale (the library's domains) and in
examples/web/regflow_web/locale (the web example's own `regflow_web` domain). The `.mo` files
are committed so that an installed regflow, and the example, need no build step and no Babel at
run time; this script (Babel, a dev dependency) is the only way they are written.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
LOCALE = ROOT / "src" / "regflow" / "locale"
WEB = ROOT / "examples" / "web"
WEB_LOCALE = WEB / "regflow_web" / "locale"
LOCALES = (LOCALE, WEB_LOCALE)


def compiled(po_path: Path) -> bytes:
    """The `.mo` bytes for one `.po` file (fuzzy entries are left out, as msgfmt does)."""
    with po_path.open("rb") as fp:
        catalog = read_po(fp)
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    return out.getvalue()


def catalogues() -> list[Path]:
    """Every `.po` file of the library and of the web example."""
    return sorted(po for locale in LOCALES for po in locale.glob("*/LC_MESSAGES/*.po"))


def stale() -> list[Path]:
    """The `.po` files whose `.mo` is missing or differs from a fresh compile."""
    result = []
    for po in catalogues():
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.read_bytes() != compiled(po):
            result.append(po)
    return result


def extract_web() -> Catalog:
    """The web example's strings, from its templates (babel.cfg's one rule, spelled out)."""
    template = Catalog(project="regflow_web", domain="regflow_web")
    found = extract_from_dir(
        WEB / "regflow_web",
        method_map=[("templates/**.html", "jinja2"), ("*.py", "python")],
        options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
    )
    for filename, lineno, message, comments, context in found:
        template.add(
            message,
            None,
            [(filename, lineno)],
            auto_comments=comments,
            context=context,
        )
    return template


def merge_web(template: Catalog) -> list[Path]:
    """Write regflow_web.pot and merge it into each language's .po; returns what changed."""
    with (WEB_LOCALE / "regflow_web.pot").open("wb") as fp:
        write_po(fp, template, width=100, omit_header=False, sort_output=True)
    written = []
    for language in ("sv", "fi"):
        po = WEB_LOCALE / language / "LC_MESSAGES" / "regflow_web.po"
        if po.exists():
            with po.open("rb") as fp:
                catalog = read_po(fp, locale=language)
        else:
            catalog = Catalog(locale=language, domain="regflow_web", project="regflow_web")
        catalog.update(template, no_fuzzy_matching=True)
        po.parent.mkdir(parents=True, exist_ok=True)
        with po.open("wb") as fp:
            write_po(
                fp, catalog, width=100, omit_header=False, sort_output=True, ignore_obsolete=True
            )
        written.append(po)
    return written


def main(argv: list[str]) -> int:
    """Run `compile`, `check` or `extract-web`."""
    command = argv[1] if len(argv) > 1 else "compile"
    if command == "compile":
        for po in catalogues():
            po.with_suffix(".mo").write_bytes(compiled(po))
            print(f"compiled {po.relative_to(ROOT)}")
        return 0
    if command == "check":
        bad = stale()
        for po in bad:
            print(f"stale: {po.relative_to(ROOT)}; run scripts/i18n.py compile")
        return 1 if bad else 0
    if command == "extract-web":
        for po in merge_web(extract_web()):
            print(f"merged {po.relative_to(ROOT)}; translate the new entries, then compile")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
