"""The rules themselves: pure functions of the normalised password and the person's context.

Characters are Unicode code points of the NFKC-normalised password. "Letter" is what Python calls
alphabetic (categories L*), "digit" a decimal digit (category Nd), "uppercase" and "lowercase"
what `str.isupper` and `str.islower` say of one character: Å, Ä and Ö are uppercase letters, å,
ä and ö lowercase ones, and the digits of other scripts are digits.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable, Iterator

from regflow.policy._result import PersonalContext

# The guide: "three consecutive characters" of the name or email address are forbidden.
RUN_LENGTH = 3


def fold(text: str) -> str:
    """The form in which personal information is compared: NFKC, casefolded, composed again.

    Casefolding makes the comparison case-insensitive ('ß' and 'SS' both fold to 'ss');
    diacritics are kept, so 'a' and 'ä' stay different characters.
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def is_word_character(char: str) -> bool:
    """A letter or a digit: what personal-information tokens are made of."""
    return char.isalpha() or char.isdecimal()


def tokens(text: str) -> Iterator[str]:
    """The maximal runs of letters and digits in `text` (split on everything else)."""
    start = None
    for index, char in enumerate(text):
        if is_word_character(char):
            if start is None:
                start = index
        elif start is not None:
            yield text[start:index]
            start = None
    if start is not None:
        yield text[start:]


def personal_runs(context: PersonalContext) -> frozenset[str]:
    """Every run of three consecutive characters inside a token of the name or email address.

    The given names, the family name and the whole email address (local part and domain) are
    folded and split on every character that is not a letter or a digit.
    """
    runs: set[str] = set()
    for field in (context.given_names, context.family_name, context.email):
        for token in tokens(fold(field)):
            runs.update(token[k : k + RUN_LENGTH] for k in range(len(token) - RUN_LENGTH + 1))
    return frozenset(runs)


def contains_personal_info(password: str, runs: frozenset[str]) -> bool:
    """Whether the folded `password` contains one of the `runs`."""
    if not runs:
        return False
    folded = fold(password)
    return any(folded[k : k + RUN_LENGTH] in runs for k in range(len(folded) - RUN_LENGTH + 1))


def has_digit(chars: Iterable[str]) -> bool:
    """Whether one of `chars` is a decimal digit."""
    return any(char.isdecimal() for char in chars)


def has_uppercase(chars: Iterable[str]) -> bool:
    """Whether one of `chars` is an uppercase letter."""
    return any(char.isupper() for char in chars)


def has_lowercase(chars: Iterable[str]) -> bool:
    """Whether one of `chars` is a lowercase letter."""
    return any(char.islower() for char in chars)


def user_inputs(context: PersonalContext, context_words: Iterable[str]) -> list[str]:
    """The strength estimate's user inputs: the person's names, email, identity code, birth date.

    Each field is given whole and as its tokens of three or more characters, the email also as
    its local part and domain, the birth date in the usual Finnish and ISO forms; with the
    policy's own `context_words` (such as the service's name). Lowercased, without duplicates
    and sorted, so the result does not depend on which field a word came from.
    """
    words: set[str] = set(context_words)
    for field in (context.given_names, context.family_name, context.email):
        value = unicodedata.normalize("NFKC", field)
        words.add(value)
        words.update(token for token in tokens(value) if len(token) >= RUN_LENGTH)
    local, _, domain = unicodedata.normalize("NFKC", context.email).rpartition("@")
    words.update((local, domain))
    words.add(unicodedata.normalize("NFKC", context.personal_id))
    if context.birth_date is not None:
        words.update(_date_forms(context.birth_date))
    return sorted({word.lower() for word in words if word.strip()})


def _date_forms(date: dt.date) -> Iterator[str]:
    """A birth date as people write it in passwords."""
    yield date.isoformat()
    yield f"{date.day}.{date.month}.{date.year}"
    yield f"{date.day:02}{date.month:02}{date.year:04}"
    yield f"{date.day:02}{date.month:02}{date.year % 100:02}"
    yield f"{date.year:04}{date.month:02}{date.day:02}"
