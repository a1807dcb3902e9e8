"""`PasswordPolicy`: which rules apply, and the check that applies them.

A check is pure and thread-safe: it reads only the policy (frozen), its arguments and zxcvbn's
frequency lists (read-only once loaded), and builds everything else per call. Its cost is bounded
whatever the input: a password more than `LENGTH_GUARD` times the maximum length is refused
before it is even normalised, the rules are linear in the length, and the strength estimate reads
at most `READ_LENGTH` characters at a bounded cost (see `_strength`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import attrs

from regflow.policy import _messages, _rules, _strength
from regflow.policy._result import (
    PersonalContext,
    PolicyResult,
    Strength,
    StrengthFeedback,
    Violation,
    normalize_password,
)

# A password longer than this many times `max_length` is refused (too_long) without a look at
# its content: not normalised, not scanned by any other rule. Shorter ones get every rule, so a
# slightly long password hears about everything else that is wrong with it too. Four times leaves
# room for normalisation, which can only shorten text by composing marks (at most about 3:1).
LENGTH_GUARD: Final = 4
# What the strength estimate reads of a password refused by the guard.
_GUARDED_READ: Final = LENGTH_GUARD * _strength.READ_LENGTH

# ASVS 5 (V6.2.9) and NIST SP 800-63B ask that passwords of at least 64 characters be allowed.
MIN_MAX_LENGTH: Final = 64
# NIST SP 800-63B's floor for any password; the profiles ask for more.
MIN_MIN_LENGTH: Final = 8


def _check_min_length(policy: PasswordPolicy, _: attrs.Attribute[int], value: int) -> None:
    if value < MIN_MIN_LENGTH:
        msg = f"min_length must be at least {MIN_MIN_LENGTH}, not {value}"
        raise ValueError(msg)


def _check_max_length(policy: PasswordPolicy, _: attrs.Attribute[int], value: int) -> None:
    if value < MIN_MAX_LENGTH:
        msg = f"max_length must be at least {MIN_MAX_LENGTH}, not {value}"
        raise ValueError(msg)
    if value < policy.min_length:
        msg = f"max_length ({value}) must not be below min_length ({policy.min_length})"
        raise ValueError(msg)


def _check_min_strength(policy: PasswordPolicy, _: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and not 0 <= value <= 4:  # zxcvbn's scores
        msg = f"min_strength must be a zxcvbn score 0-4 or None, not {value}"
        raise ValueError(msg)


def _to_words(words: Sequence[str]) -> tuple[str, ...]:
    if isinstance(words, str):  # a lone string would become its characters
        return (words,)
    return tuple(words)


@attrs.frozen
class PasswordPolicy:
    """Which password rules apply; `check` applies them, `requirements` lists them.

    Use a profile: `PasswordPolicy.helen()` (the registration guide's rules, the default) or
    `PasswordPolicy.asvs()` (OWASP ASVS 5 / NIST SP 800-63B). The fields are the knobs the
    profiles turn; an invalid combination raises `ValueError`.
    """

    min_length: int = attrs.field(default=10, validator=_check_min_length)
    max_length: int = attrs.field(default=128, validator=_check_max_length)
    require_digit: bool = True
    require_uppercase: bool = True
    require_lowercase: bool = True
    forbid_personal_info: bool = True
    min_strength: int | None = attrs.field(default=3, validator=_check_min_strength)
    # words of the service (its name, its domain) that make a password easy to guess; given to
    # the strength estimate together with the person's own data
    context_words: tuple[str, ...] = attrs.field(default=(), converter=_to_words)

    @classmethod
    def helen(
        cls,
        *,
        min_strength: int | None = 3,
        max_length: int = 128,
        context_words: Sequence[str] = (),
    ) -> PasswordPolicy:
        """The registration guide's rules, plus `too_long` and (unless None) `too_weak`.

        At least 10 characters, a digit, an uppercase and a lowercase letter, no three
        consecutive characters of the name or email address. `min_strength=None` leaves exactly
        the guide's rules (and the length limit).
        """
        return cls(
            min_length=10,
            max_length=max_length,
            min_strength=min_strength,
            context_words=_to_words(context_words),
        )

    @classmethod
    def asvs(
        cls,
        *,
        min_length: int = 15,
        max_length: int = 128,
        min_strength: int | None = 3,
        context_words: Sequence[str] = (),
    ) -> PasswordPolicy:
        """The OWASP ASVS 5 / NIST SP 800-63B profile: length and guessability, no composition.

        At least `min_length` characters (15 by default, as both recommend for a password that is
        the only factor), up to `max_length` (never below 64), no rule on character classes, and
        the strength estimate with the person's data and `context_words` as context words, so a
        password built on them counts as easy to guess.
        """
        return cls(
            min_length=min_length,
            max_length=max_length,
            require_digit=False,
            require_uppercase=False,
            require_lowercase=False,
            forbid_personal_info=False,
            min_strength=min_strength,
            context_words=_to_words(context_words),
        )

    def active_codes(self) -> tuple[str, ...]:
        """The codes of the rules this policy applies, in the stable order."""
        active = {
            "too_short": True,
            "missing_digit": self.require_digit,
            "missing_uppercase": self.require_uppercase,
            "missing_lowercase": self.require_lowercase,
            "contains_personal_info": self.forbid_personal_info,
            "too_long": True,
            "too_weak": self.min_strength is not None,
        }
        return tuple(code for code in _messages.CODES if active[code])

    def requirements(self, language: str | None = "en") -> tuple[tuple[str, str], ...]:
        """The active rules as (code, short text) pairs in `language` (else English), for a UI."""
        return tuple(
            (code, _messages.text(_messages.REQUIREMENTS[code], language, **self._params()))
            for code in self.active_codes()
        )

    def message(self, code: str, language: str | None = "en") -> str:
        """The message for a violation of rule `code` under this policy, in `language`."""
        return _messages.violation_message(code, language, **self._params())

    def check(
        self, password: str, context: PersonalContext, language: str | None = "en"
    ) -> PolicyResult:
        """Every rule `password` breaks (in the stable order, with messages), and its strength.

        The password is NFKC-normalised first (as `normalize_password` does for hashing). The
        strength is always estimated, for a meter, whether or not `too_weak` is active. Any
        string is a password to check; a language regflow does not speak gives English texts
        (`regflow.normalize_language` maps tags such as "fi-FI"). Never raises.
        """
        codes: list[str]
        if len(password) > LENGTH_GUARD * self.max_length:
            codes = ["too_long"]
            head = normalize_password(password[:_GUARDED_READ])
        else:
            normalized = normalize_password(password)
            codes = self._rule_codes(normalized, context)
            head = normalized
        estimate = _strength.estimate(head, self._user_inputs(context))
        if self.min_strength is not None and estimate.score < self.min_strength:
            codes.append("too_weak")
        return PolicyResult(
            violations=tuple(Violation(code, self.message(code, language)) for code in codes),
            strength=Strength(estimate.score, self._feedback(estimate, language)),
        )

    def _rule_codes(self, normalized: str, context: PersonalContext) -> list[str]:
        """The codes of the rules other than `too_weak` that `normalized` breaks, in order."""
        chars = set(normalized)  # the character-class rules need each character once
        broken = {
            "too_short": len(normalized) < self.min_length,
            "missing_digit": self.require_digit and not _rules.has_digit(chars),
            "missing_uppercase": self.require_uppercase and not _rules.has_uppercase(chars),
            "missing_lowercase": self.require_lowercase and not _rules.has_lowercase(chars),
            "contains_personal_info": self.forbid_personal_info
            and _rules.contains_personal_info(normalized, _rules.personal_runs(context)),
            "too_long": len(normalized) > self.max_length,
        }
        return [code for code in _messages.CODES if broken.get(code, False)]

    def _user_inputs(self, context: PersonalContext) -> list[str]:
        return _rules.user_inputs(context, self.context_words)

    def _feedback(self, estimate: _strength.Estimate, language: str | None) -> StrengthFeedback:
        """zxcvbn's feedback in `language`, less advice that contradicts this policy's rules."""
        composition = self.require_digit or self.require_uppercase or self.require_lowercase
        suggestions = [
            _messages.feedback_text(suggestion, language)
            for suggestion in estimate.suggestions
            if not (composition and suggestion == _messages.NO_NEED_FOR_SYMBOLS)
        ]
        warning = _messages.feedback_text(estimate.warning, language) if estimate.warning else ""
        return StrengthFeedback(warning=warning, suggestions=tuple(suggestions))

    def _params(self) -> dict[str, object]:
        return {"min_length": self.min_length, "max_length": self.max_length}
