"""The policy's texts (English msgids of the `regflow_policy` gettext domain) and their lookup.

Swedish and Finnish are in `regflow/locale/{sv,fi}/LC_MESSAGES/regflow_policy.po`; the Swedish
requirement texts follow the registration guide's own wording. zxcvbn's feedback comes out of
zxcvbn in English and is translated here too: its sentences are msgids of this domain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from regflow._i18n import N_, translate

DOMAIN: Final = "regflow_policy"

# The rule codes in their stable order: the guide's own rules first (DESIGN.md section 4).
CODES: Final = (
    "too_short",
    "missing_digit",
    "missing_uppercase",
    "missing_lowercase",
    "contains_personal_info",
    "too_long",
    "too_weak",
)

# code -> message for a violation, with the policy's numbers where the rule has one
VIOLATIONS: Final[Mapping[str, str]] = {
    "too_short": N_("The password must have at least {min_length} characters."),
    "missing_digit": N_("The password must contain at least one digit."),
    "missing_uppercase": N_("The password must contain at least one uppercase letter."),
    "missing_lowercase": N_("The password must contain at least one lowercase letter."),
    "contains_personal_info": N_(
        "The password must not contain three consecutive characters of your name or email address."
    ),
    "too_long": N_("The password may have at most {max_length} characters."),
    "too_weak": N_("The password is too easy to guess."),
}

# code -> message when the policy (and so the number) is not known, for `violation_message`
GENERIC_VIOLATIONS: Final[Mapping[str, str]] = {
    **VIOLATIONS,
    "too_short": N_("The password is too short."),
    "too_long": N_("The password is too long."),
}

# code -> short text for a checklist of requirements
REQUIREMENTS: Final[Mapping[str, str]] = {
    "too_short": N_("at least {min_length} characters"),
    "missing_digit": N_("at least one digit"),
    "missing_uppercase": N_("at least one uppercase letter"),
    "missing_lowercase": N_("at least one lowercase letter"),
    "contains_personal_info": N_(
        "the password must not contain three consecutive characters of the user's name or "
        "email address"
    ),
    "too_long": N_("at most {max_length} characters"),
    "too_weak": N_("not easy to guess"),
}

# Every sentence zxcvbn's feedback can give (zxcvbn/feedback.py); a test keeps this complete.
ZXCVBN_FEEDBACK: Final = (
    N_("Use a few words, avoid common phrases."),
    N_("No need for symbols, digits, or uppercase letters."),
    N_("Add another word or two. Uncommon words are better."),
    N_("Straight rows of keys are easy to guess."),
    N_("Short keyboard patterns are easy to guess."),
    N_("Use a longer keyboard pattern with more turns."),
    N_('Repeats like "aaa" are easy to guess.'),
    N_('Repeats like "abcabcabc" are only slightly harder to guess than "abc".'),
    N_("Avoid repeated words and characters."),
    N_('Sequences like "abc" or "6543" are easy to guess.'),
    N_("Avoid sequences."),
    N_("Recent years are easy to guess."),
    N_("Avoid recent years."),
    N_("Avoid years that are associated with you."),
    N_("Dates are often easy to guess."),
    N_("Avoid dates and years that are associated with you."),
    N_("This is a top-10 common password."),
    N_("This is a top-100 common password."),
    N_("This is a very common password."),
    N_("This is similar to a commonly used password."),
    N_("A word by itself is easy to guess."),
    N_("Names and surnames by themselves are easy to guess."),
    N_("Common names and surnames are easy to guess."),
    N_("Capitalization doesn't help very much."),
    N_("All-uppercase is almost as easy to guess as all-lowercase."),
    N_("Reversed words aren't much harder to guess."),
    N_("Predictable substitutions like '@' instead of 'a' don't help very much."),
)
# zxcvbn's advice for an empty password; wrong where the policy asks for digits or uppercase
NO_NEED_FOR_SYMBOLS: Final = ZXCVBN_FEEDBACK[1]

# `regflow check-password`'s own lines
CLI_PROMPT: Final = N_("Password: ")
CLI_ACCEPTED: Final = N_("The password meets the requirements.")
CLI_REJECTED: Final = N_("The password does not meet the requirements:")
CLI_STRENGTH: Final = N_("Strength: {score}/4")
CLI_WARNING: Final = N_("Warning: {warning}")
CLI_SUGGESTION: Final = N_("Suggestion: {suggestion}")
CLI_REQUIREMENTS: Final = N_("Requirements:")


def text(msgid: str, language: str | None, /, **params: object) -> str:
    """`msgid` of this domain in `language` (sv, fi or en; anything else: English), filled in."""
    return translate(DOMAIN, msgid, language, **params)


def feedback_text(sentence: str, language: str | None) -> str:
    """One of zxcvbn's English feedback sentences in `language` (unknown ones stay as they are)."""
    return translate(DOMAIN, sentence, language)


def violation_message(code: str, language: str | None = "en", **params: object) -> str:
    """The message for a violation `code` in `language` (else English), without a policy at hand.

    With `min_length` (for `too_short`) or `max_length` (for `too_long`) in `params` the message
    names the number, as `PasswordPolicy.check` does; without, it says only what is wrong.
    Raises `ValueError` for a code that is not one of the policy's.
    """
    if code not in VIOLATIONS:
        msg = f"unknown password policy code {code!r}; expected one of {', '.join(CODES)}"
        raise ValueError(msg)
    numbered = {"too_short": "min_length", "too_long": "max_length"}.get(code)
    if numbered is not None and numbered in params:
        return text(VIOLATIONS[code], language, **{numbered: params[numbered]})
    return text(GENERIC_VIOLATIONS[code], language)


def msgids() -> frozenset[str]:
    """Every msgid of this domain (each must have a Swedish and a Finnish translation)."""
    cli = (
        CLI_PROMPT,
        CLI_ACCEPTED,
        CLI_REJECTED,
        CLI_STRENGTH,
        CLI_WARNING,
        CLI_SUGGESTION,
        CLI_REQUIREMENTS,
    )
    return frozenset(
        (
            *VIOLATIONS.values(),
            *GENERIC_VIOLATIONS.values(),
            *REQUIREMENTS.values(),
            *ZXCVBN_FEEDBACK,
            *cli,
        )
    )
