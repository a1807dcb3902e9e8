"""The policy's input and output values, shared by the rules, the strength estimate and the core."""

from __future__ import annotations

import datetime as dt
import unicodedata

import attrs


def normalize_password(password: str) -> str:
    """NFKC-normalise a password: the same form is checked, hashed and verified."""
    return unicodedata.normalize("NFKC", password)


@attrs.frozen
class PersonalContext:
    """What the policy knows about the person choosing the password."""

    given_names: str = ""
    family_name: str = ""
    email: str = ""
    personal_id: str = attrs.field(default="", repr=False)
    birth_date: dt.date | None = attrs.field(default=None, repr=False)


@attrs.frozen
class Violation:
    """One rule the password breaks: a stable code and a message in the asked language."""

    code: str
    message: str


@attrs.frozen
class StrengthFeedback:
    """zxcvbn's feedback, translated: one warning (may be empty) and suggestions."""

    warning: str = ""
    suggestions: tuple[str, ...] = ()


@attrs.frozen
class Strength:
    """A strength estimate for a meter: zxcvbn's score 0 (weakest) to 4."""

    score: int
    feedback: StrengthFeedback = StrengthFeedback()


@attrs.frozen
class PolicyResult:
    """The outcome of one check: every violation, in a stable order, and the strength."""

    violations: tuple[Violation, ...]
    strength: Strength

    @property
    def ok(self) -> bool:
        """Whether the password may be used."""
        return not self.violations
