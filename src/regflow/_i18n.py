"""Message catalogues: gettext `.mo` files compiled from the `.po` sources in `locale/`.

English is the source language (the msgids), Swedish and Finnish are translations. Each area of
the library has its own gettext domain (`regflow` for the flow and its errors, `regflow_policy` for
the password policy), so their catalogues can be edited independently. Catalogues are loaded once
per (domain, language) and cached; gettext's translation objects are read-only after loading and
safe to share between threads.

Languages: every function that renders text takes any value as its language, maps it with
`normalize_language` (so `"FI"`, `"fi-FI"` and `"sv_FI.UTF-8"` work) and falls back to English,
the source language, for anything else; only `RegistrationFlow.start`, which stores the language
in the flow, refuses an unusable one with `UnsupportedLanguage`.
"""

from __future__ import annotations

import functools
import gettext
import re
from importlib import resources
from typing import Final, Literal, TypeAlias

Language: TypeAlias = Literal["sv", "fi", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("sv", "fi", "en")
_BY_CODE: Final[dict[str, Language]] = {language: language for language in LANGUAGES}
# What rendering falls back to for a language regflow cannot map: English, the source language,
# whose texts are always complete.
FALLBACK_LANGUAGE: Final[Language] = "en"

# Longest input `normalize_language` reads: generous for an Accept-Language header, and it
# bounds the work for a hostile one.
_MAX_INPUT: Final = 1024
# One tag: a BCP 47 language tag (`fi`, `fi-FI`, `sv-Latn-FI`) or a POSIX locale name
# (`sv_FI`, `fi_FI.UTF-8`, `sv_FI@euro`). Only the primary language subtag matters.
_TAG: Final = re.compile(
    r"\s*([A-Za-z]{2,3})"  # the primary language subtag
    r"(?:[-_][A-Za-z0-9]{1,8})*"  # script, region, variants (BCP 47) or territory (POSIX)
    r"(?:\.[A-Za-z0-9_-]{1,20})?(?:@[A-Za-z0-9]{1,20})?\s*",  # POSIX codeset and modifier
    re.ASCII,
)
# An Accept-Language weight (RFC 9110 section 12.4.2): 0 to 1 with up to three decimals.
_WEIGHT: Final = re.compile(r"\s*[qQ]\s*=\s*(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)\s*", re.ASCII)


def normalize_language(tag: object) -> Language | None:
    """The language regflow speaks that `tag` names, or None when it names none of them.

    `tag` may be a language tag (`"fi"`, `"FI"`, `"fi-FI"`, `"sv-SE"`), a POSIX locale name
    (`"sv_FI"`, `"fi_FI.UTF-8"`) or a whole Accept-Language header (`"de-DE,sv;q=0.8,en;q=0.5"`:
    the supported language with the highest weight, the first on a tie; weight 0 means "not
    this one"). Anything else (None, a number, an empty or malformed string, a language regflow
    does not speak, input over 1024 characters) gives None; this function never raises. A web
    application uses it for the language cookie and then for Accept-Language, with its own
    default after that (for example `normalize_language(cookie) or normalize_language(header)
    or "sv"`).
    """
    if not isinstance(tag, str) or len(tag) > _MAX_INPUT:
        return None
    best: Language | None = None
    best_weight = 0.0
    for item in tag.split(","):
        name, _, weight_text = item.partition(";")
        match = _TAG.fullmatch(name)
        if match is None:
            continue
        weight = 1.0
        if weight_text:
            weight_match = _WEIGHT.fullmatch(weight_text)
            if weight_match is None:
                continue
            weight = float(weight_match.group(1))
        language = _BY_CODE.get(match.group(1).lower())
        if language is not None and weight > best_weight:
            best, best_weight = language, weight
    return best


def resolve_language(tag: object) -> Language:
    """`normalize_language(tag)`, or English when that gives None: the language to render in."""
    return normalize_language(tag) or FALLBACK_LANGUAGE


def check_language(language: str) -> Language:
    """Return `language` as a supported language code, or raise `ValueError` (exact codes only)."""
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


def load_catalogues() -> None:
    """Load every domain's catalogue for every language now, not at its first message."""
    for entry in (resources.files("regflow") / "locale" / "sv" / "LC_MESSAGES").iterdir():
        if entry.name.endswith(".mo"):
            for language in LANGUAGES:
                catalogue(entry.name.removesuffix(".mo"), language)


def translate(domain: str, msgid: str, language: object, /, **params: object) -> str:
    """Translate `msgid` into `language` and fill in its `{named}` placeholders.

    `language` goes through `resolve_language`: a tag it cannot map gives the English text.
    """
    text = catalogue(domain, resolve_language(language)).gettext(msgid)
    return text.format(**params) if params else text


def N_(msgid: str) -> str:  # gettext's conventional name for "mark for extraction"
    """Mark a string for extraction without translating it here."""
    return msgid
