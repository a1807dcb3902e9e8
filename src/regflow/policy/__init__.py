"""Password policy (work in progress)."""

from regflow.policy._result import (
    PersonalContext,
    PolicyResult,
    Strength,
    StrengthFeedback,
    Violation,
    normalize_password,
)

__all__ = [
    "PersonalContext",
    "PolicyResult",
    "Strength",
    "StrengthFeedback",
    "Violation",
    "normalize_password",
]
