"""The web app's own texts (gettext domain `regflow_web`) and one Jinja2 environment per language.

The catalogues are extracted from the templates with Babel (`babel.cfg`) and compiled by
`python scripts/i18n.py compile`; the `.mo` files are committed, like the library's, so that
running the app needs no build step. The library's texts (errors, field labels, outcomes) come
from regflow itself, through `regflow.ui`.
"""

from __future__ import annotations

import gettext
from pathlib import Path
from typing import Final

import jinja2

from regflow import normalize_language

HERE: Final = Path(__file__).resolve().parent
LOCALE: Final = HERE / "locale"
TEMPLATES: Final = HERE / "templates"
DOMAIN: Final = "regflow_web"
LANGUAGES: Final = ("sv", "fi", "en")


def translations(language: str) -> gettext.NullTranslations:
    """The web catalogue for `language` (English: the msgids themselves)."""
    if language == "en":
        return gettext.NullTranslations()
    return gettext.translation(DOMAIN, localedir=LOCALE, languages=[language])


def environments() -> dict[str, jinja2.Environment]:
    """One template environment per language, each with its catalogue installed."""
    loader = jinja2.FileSystemLoader(TEMPLATES)
    result = {}
    for language in LANGUAGES:
        env = jinja2.Environment(
            loader=loader,
            autoescape=True,
            extensions=["jinja2.ext.i18n"],
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            # the templates ship with the app and never change under a running server: no
            # stat of every template file on every render (3.4 us per template, measured)
            auto_reload=False,
        )
        env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]  # added by the i18n extension
        result[language] = env
    return result


def choose_language(cookie: str | None, accept_language: str | None, default: str) -> str:
    """The language cookie, else Accept-Language, else `default` (never fails)."""
    return normalize_language(cookie) or normalize_language(accept_language) or default
