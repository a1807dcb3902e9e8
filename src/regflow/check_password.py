"""`regflow check-password`: the policy's verdict on one password, for operators and support.

    regflow check-password --language sv --given-names Anna-Liisa --family-name Virtanen \\
        --email anna-liisa.virtanen@example.fi
    printf '%s\\n' "$candidate" | regflow check-password --profile asvs

The password is read from a hidden prompt when stdin is a terminal, otherwise from stdin (one
trailing line break removed); it is never echoed or printed. Exit status: 0 when the password
meets the requirements, 1 when it does not, 2 for a usage error: an option the profile ignores
(`--min-length` with `helen`), an invalid `--personal-id` or `--birth-date`, or an empty password.
Imports stay light here: the
policy (and zxcvbn) load only when the command runs. It lives outside `regflow.policy`, which
does no I/O (DESIGN section 9); its texts are in the policy's catalogue.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TextIO

LANGUAGES = ("sv", "fi", "en")  # regflow._i18n.LANGUAGES, without importing it for --help


def _strength_level(value: str) -> int | None:
    if value.lower() == "none":
        return None
    level = int(value)
    if not 0 <= level <= 4:  # zxcvbn's scores
        msg = f"expected 0-4 or none, not {value!r}"
        raise argparse.ArgumentTypeError(msg)
    return level


def _birth_date(value: str) -> dt.date:
    try:
        date = dt.date.fromisoformat(value)
    except ValueError:
        msg = f"expected a date as YYYY-MM-DD, not {value!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if date > dt.datetime.now(dt.UTC).date():
        msg = f"{value} is in the future"
        raise argparse.ArgumentTypeError(msg)
    return date


def _option_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with options that argparse cannot check alone, or None."""
    if args.min_length is not None and args.profile != "asvs":
        return (
            "--min-length applies to --profile asvs only; the helen profile's minimum is the "
            "guide's 10 characters"
        )
    if args.personal_id:
        from stdnum.exceptions import ValidationError
        from stdnum.fi import hetu

        try:
            hetu.validate(args.personal_id, allow_temporary=True)
        except ValidationError:  # the code itself is not repeated: it is personal data
            return "--personal-id is not a valid Finnish personal identity code"
    return None


def _usage_error(message: str) -> int:
    print(f"regflow check-password: error: {message}", file=sys.stderr)
    return 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the command's options to its sub-parser."""
    parser.add_argument("--language", choices=LANGUAGES, default="en", help="output language")
    parser.add_argument(
        "--profile",
        choices=("helen", "asvs"),
        default="helen",
        help="helen: the registration guide's rules (default); asvs: OWASP ASVS 5 / NIST",
    )
    parser.add_argument(
        "--min-strength",
        type=_strength_level,
        default=3,
        metavar="{0-4,none}",
        help="lowest acceptable zxcvbn score (default 3); none: no strength rule",
    )
    parser.add_argument(
        "--min-length",
        type=int,
        default=None,
        help="minimum length for --profile asvs (default 15); helen's is the guide's 10",
    )
    parser.add_argument("--max-length", type=int, default=128, help="maximum length")
    parser.add_argument("--given-names", default="", help="the person's given names")
    parser.add_argument("--family-name", default="", help="the person's family name")
    parser.add_argument("--email", default="", help="the person's email address")
    parser.add_argument("--personal-id", default="", help="the personal identity code")
    parser.add_argument("--birth-date", type=_birth_date, default=None, help="YYYY-MM-DD")
    parser.add_argument(
        "--requirements",
        action="store_true",
        help="print the policy's requirements and exit, without reading a password",
    )


def run(args: argparse.Namespace) -> int:
    """Check the password and print the verdict; 0 if it meets the requirements, else 1."""
    from regflow.policy import PasswordPolicy, PersonalContext
    from regflow.policy import _messages as messages

    out: TextIO = sys.stdout
    language: str = args.language
    problem = _option_problem(args)
    if problem is not None:
        return _usage_error(problem)
    try:
        if args.profile == "asvs":
            policy = PasswordPolicy.asvs(
                min_length=15 if args.min_length is None else args.min_length,
                max_length=args.max_length,
                min_strength=args.min_strength,
            )
        else:
            policy = PasswordPolicy.helen(
                min_strength=args.min_strength, max_length=args.max_length
            )
    except ValueError as error:
        return _usage_error(str(error))
    if args.requirements:
        print(messages.text(messages.CLI_REQUIREMENTS, language), file=out)
        for _, requirement in policy.requirements(language):
            print(f"- {requirement}", file=out)
        return 0

    password = _read_password(messages.text(messages.CLI_PROMPT, language))
    if not password:
        return _usage_error("no password given (the input was empty)")
    context = PersonalContext(
        given_names=args.given_names,
        family_name=args.family_name,
        email=args.email,
        personal_id=args.personal_id,
        birth_date=args.birth_date,
    )
    result = policy.check(password, context, language)
    if result.ok:
        print(messages.text(messages.CLI_ACCEPTED, language), file=out)
    else:
        print(messages.text(messages.CLI_REJECTED, language), file=out)
        for violation in result.violations:
            print(f"- {violation.code}: {violation.message}", file=out)
    strength = result.strength
    print(messages.text(messages.CLI_STRENGTH, language, score=strength.score), file=out)
    if strength.feedback.warning:
        warning = strength.feedback.warning
        print(messages.text(messages.CLI_WARNING, language, warning=warning), file=out)
    for suggestion in strength.feedback.suggestions:
        print(messages.text(messages.CLI_SUGGESTION, language, suggestion=suggestion), file=out)
    return 0 if result.ok else 1


def _read_password(prompt: str) -> str:
    """From a hidden prompt on a terminal, else all of stdin less one trailing line break."""
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass(prompt)
    text = sys.stdin.read()
    if text.endswith("\r\n"):
        return text[:-2]
    return text.removesuffix("\n")
