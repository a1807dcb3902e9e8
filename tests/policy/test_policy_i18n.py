"""The regflow_policy catalogues: complete, consistent with their sources, and compiled."""

from __future__ import annotations

import io
import re
import string
from importlib import resources

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from regflow.policy import _messages

LOCALE = resources.files("regflow") / "locale"


def catalogue_path(language: str, suffix: str) -> str:
    """The path of a regflow_policy catalogue file, relative to the package's locale folder."""
    return f"{language}/LC_MESSAGES/{_messages.DOMAIN}{suffix}"


def read_catalogue(language: str) -> Catalog:
    """The parsed `.po` catalogue of `language`."""
    with (LOCALE / catalogue_path(language, ".po")).open("rb") as fp:
        return read_po(fp)


def placeholders(text: str) -> set[str]:
    """The `{name}` fields of a message."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", ["sv", "fi"])
def test_every_message_is_translated_with_the_same_placeholders(language: str) -> None:
    """Each msgid the policy uses has a non-empty translation that keeps its {placeholders}."""
    catalogue = read_catalogue(language)
    # no plural messages here: every id and string is a plain str
    translations = {str(m.id): str(m.string) for m in catalogue if m.id}
    assert set(translations) == set(_messages.msgids())
    for msgid, translation in translations.items():
        assert translation, msgid
        assert placeholders(translation) == placeholders(msgid), msgid


@pytest.mark.parametrize("language", ["sv", "fi"])
def test_catalogue_headers_declare_utf8_and_plural_forms(language: str) -> None:
    """Each .po file is a proper catalogue: UTF-8, its language, plural forms."""
    text = (LOCALE / catalogue_path(language, ".po")).read_text(encoding="utf-8")
    assert "Content-Type: text/plain; charset=UTF-8" in text
    assert re.search(r"Plural-Forms: nplurals=\d+; plural=", text)
    assert f"Language: {language}" in text
    assert not read_catalogue(language).fuzzy


@pytest.mark.parametrize("language", ["sv", "fi"])
def test_the_compiled_catalogue_matches_its_source(language: str) -> None:
    """The committed .mo is what scripts/i18n.py compile makes of the .po."""
    out = io.BytesIO()
    write_mo(out, read_catalogue(language), use_fuzzy=False)
    assert (LOCALE / catalogue_path(language, ".mo")).read_bytes() == out.getvalue()
