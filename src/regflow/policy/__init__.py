"""The password policy: may this password be used, why not (in the user's language), how strong.

    from regflow.policy import PasswordPolicy, PersonalContext

    policy = PasswordPolicy.helen()          # the registration guide's rules, + too_long, too_weak
    context = PersonalContext(given_names="Anna-Liisa", family_name="Virtanen",
                              email="anna-liisa.virtanen@example.fi")
    result = policy.check("Virtuoso2024x", context, language="sv")
    result.ok                                # False: contains_personal_info ("Vir")
    result.strength.score                    # zxcvbn's 0-4, for a meter
    policy.requirements("sv")                # [(code, text), ...] for a checklist

The rules and their codes are those of DESIGN.md section 4; `PasswordPolicy.asvs()` is the
standards profile (OWASP ASVS 5 / NIST SP 800-63B). Checks are pure, thread-safe and bounded in
cost for any input; the password is NFKC-normalised first, and `normalize_password` is the same
normalisation for hashing and verifying.
"""

from regflow.policy._messages import violation_message
from regflow.policy._policy import PasswordPolicy
from regflow.policy._result import (
    PersonalContext,
    PolicyResult,
    Strength,
    StrengthFeedback,
    Violation,
    normalize_password,
)

__all__ = [
    "PasswordPolicy",
    "PersonalContext",
    "PolicyResult",
    "Strength",
    "StrengthFeedback",
    "Violation",
    "normalize_password",
    "violation_message",
]
