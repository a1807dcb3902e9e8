"""Message catalogues: gettext `.mo` files compiled from the `.po` sources in `locale/`.

English is the source language (the msgids), Swedish and Finnish are translations. Each area of
the library has its own gettext domain (`regflow` for the flow and its errors, `regflow_policy` for
the password policy), so their catalogues can be edited independently. Catalogues are loaded once
per (domain, language) and cached; gettext's translation objects are read-only after loading and
safe to share between threads.
"""

from __future__ import annotations

import functools
import gettext
from importlib import resources
from typing import Final, Literal, TypeAlias

Language: TypeAlias = Literal["sv", "fi", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("sv", "fi", "en")


def check_language(language: str) -> Language:
    """Return `language` as a supported language code, or raise `ValueError`."""
    if language not in LANGUAGES:
        msg = f"unsupported language {language!r}; expected one of {', '.join(LANGUAGES)}"
        raise ValueError(msg)
    return language  # type: ignore[return-value,unused-ignore]  # narrowed by the test above


@functools.cache
def catalogue(domain: str, language: str) -> gettext.NullTranslations:
    """The translations of `domain` into `language` (a null catalogue for English)."""
    if language == "en":
        return gettext.NullTranslations()
    path = resources.files("regflow") / "locale" / language / "LC_MESSAGES" / f"{domain}.mo"
    with path.open("rb") as fp:
        return gettext.GNUTranslations(fp)


def translate(domain: str, msgid: str, language: str, /, **params: object) -> str:
    """Translate `msgid` into `language` and fill in its `{named}` placeholders."""
    text = catalogue(domain, language).gettext(msgid)
    return text.format(**params) if params else text


def N_(msgid: str) -> str:  # gettext's conventional name for "mark for extraction"
    """Mark a string for extraction without translating it here."""
    return msgid
