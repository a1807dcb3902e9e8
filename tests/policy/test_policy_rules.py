"""The rules of DESIGN.md section 4, one example at a time, and the policy's configuration."""

from __future__ import annotations

import datetime as dt

import pytest

from regflow.policy import (
    PasswordPolicy,
    PersonalContext,
    normalize_password,
    violation_message,
)

ANNA = PersonalContext(
    given_names="Anna-Liisa",
    family_name="Virtanen",
    email="anna-liisa.virtanen@example.fi",
    personal_id="131052-308T",
    birth_date=dt.date(1952, 10, 13),
)
NOBODY = PersonalContext()
GUIDE = PasswordPolicy.helen(min_strength=None)  # exactly the guide's rules (+ too_long)


def codes(policy: PasswordPolicy, password: str, context: PersonalContext = NOBODY) -> list[str]:
    """The violation codes of one check, in the order reported."""
    return [violation.code for violation in policy.check(password, context).violations]


def test_the_issues_example_breaks_only_the_personal_information_rule() -> None:
    """'Virtuoso2024x' for Anna-Liisa Virtanen: 'vir' is hers, zxcvbn rates it 3, nothing else."""
    result = PasswordPolicy.helen().check("Virtuoso2024x", ANNA, language="sv")
    assert [v.code for v in result.violations] == ["contains_personal_info"]
    assert result.violations[0].message == (
        "Lösenordet får inte innehålla tre tecken i följd från ditt namn eller din e-postadress."
    )
    assert result.strength.score == 3
    assert not result.ok


def test_a_password_meeting_every_rule_is_ok() -> None:
    """A long, mixed password unrelated to the person passes every rule, zxcvbn included."""
    result = PasswordPolicy.helen().check("Kuusi kuolevaa Kettua 7", ANNA)
    assert result.ok
    assert result.violations == ()
    assert result.strength.score >= 3


def test_every_violation_is_reported_at_once_in_the_stable_order() -> None:
    """'ann' (short, no digit, no uppercase, part of her name, weak) gets all five codes."""
    assert codes(PasswordPolicy.helen(), "ann", ANNA) == [
        "too_short",
        "missing_digit",
        "missing_uppercase",
        "contains_personal_info",
        "too_weak",
    ]
    assert codes(PasswordPolicy.helen(), "1" * 129) == [
        "missing_uppercase",
        "missing_lowercase",
        "too_long",
        "too_weak",
    ]


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        ("Abcdefgh1", ["too_short"]),  # 9 characters
        ("Abcdefgh12", []),  # 10
        ("Abcdefghij", ["missing_digit"]),
        ("abcdefgh12", ["missing_uppercase"]),
        ("ABCDEFGH12", ["missing_lowercase"]),
        ("ÅÄÖåäöxyz1", []),  # Swedish and Finnish letters are letters with a case
        ("åäöxyzqwe1", ["missing_uppercase"]),
        ("ÅÄÖXYZQWE1", ["missing_lowercase"]),
        ("Abcdefgh\u0661\u0662", []),  # Arabic-Indic digits one, two: decimal digits
        ("\uff21\uff42\uff43\uff44\uff45\uff46\uff47\uff48\uff11\uff12", []),  # fullwidth: ASCII
        ("Abcdefgh①", ["too_short"]),  # ① normalises to the digit 1
        ("Abcdefgh!!", ["missing_digit"]),
        ("\u03a0\u03b1\u03bd\u03c3\u03ad\u03bb\u03b7\u03bd\u03bf\u03c27", []),  # Greek has case
        ("水水水水水水水水水1", ["missing_uppercase", "missing_lowercase"]),  # Han has no case
    ],
)
def test_the_guides_character_rules(password: str, expected: list[str]) -> None:
    """Length in code points, and digits and letters by their Unicode properties after NFKC."""
    assert codes(GUIDE, password) == expected


def test_length_is_counted_after_normalisation() -> None:
    """A ligature counts as the letters it stands for; a decomposed Ä as one character."""
    assert codes(GUIDE, "Abcdefg1\ufb00") == []  # 'ﬀ' is 'ff': 10 characters
    decomposed = "A\u0308bcdefgh1"  # A + combining diaeresis: 10 code points, 9 after NFKC
    assert codes(GUIDE, decomposed) == ["too_short"]
    assert normalize_password(decomposed) == "Äbcdefgh1"


def test_too_long_starts_above_the_maximum() -> None:
    """128 characters are allowed by default, 129 are not; the maximum is configurable."""
    assert codes(GUIDE, "Aa1" + "x" * 125) == []
    assert codes(GUIDE, "Aa1" + "x" * 126) == ["too_long"]
    roomy = PasswordPolicy.helen(min_strength=None, max_length=200)
    assert codes(roomy, "Aa1" + "x" * 197) == []
    assert codes(roomy, "Aa1" + "x" * 198) == ["too_long"]


def test_a_huge_password_is_refused_without_looking_at_it() -> None:
    """Over four times the maximum only too_long is reported: no other rule read the content."""
    # no uppercase, no digit, her name: each would be reported if a rule had scanned it
    assert codes(GUIDE, "virtanen" * 1250, ANNA) == ["too_long"]
    assert codes(GUIDE, "virtanen" * 64, ANNA) == [  # 512 = 4 x 128: still scanned
        "missing_digit",
        "missing_uppercase",
        "contains_personal_info",
        "too_long",
    ]


@pytest.mark.parametrize(
    "password",
    [
        "Xann0000000",  # given name
        "XLIIS00000q",  # second given name, another case
        "Xtan0000000",  # family name, inside
        "Xamp000000q",  # email domain 'example'
        "Q000000qNEN",  # end of the family name
    ],
)
def test_three_consecutive_characters_of_a_name_or_email_token_are_forbidden(
    password: str,
) -> None:
    """Any 3-character run of a token of the names or the email, in any case, is found."""
    assert codes(GUIDE, password, ANNA) == ["contains_personal_info"]


@pytest.mark.parametrize(
    "password",
    [
        "Xan0000000",  # two characters only
        "Xa-n-n000000",  # the run broken by separators
        "Xfi0000000q",  # 'fi' is a token of two characters: no run of three
        "Xänn000000",  # diacritics are not folded: 'ä' is not 'a'
        "Xq131052000",  # the identity code is not part of this rule (zxcvbn sees it)
    ],
)
def test_shorter_or_different_runs_are_allowed(password: str) -> None:
    """Two characters, runs across separators and other letters do not count."""
    assert codes(GUIDE, password, ANNA) == []


def test_tokens_split_on_every_character_that_is_not_a_letter_or_digit() -> None:
    """The email's dots, at-sign and hyphens split it; the domain counts as well as the name."""
    context = PersonalContext(email="jo+mail_box@über.example")
    assert codes(GUIDE, "Xmai000000", context) == ["contains_personal_info"]
    assert codes(GUIDE, "Xübe000000", context) == ["contains_personal_info"]
    assert codes(GUIDE, "Xube000000", context) == []  # 'u' is not 'ü'
    assert codes(GUIDE, "Xjo+m00000", context) == []  # 'jo' alone is too short


def test_casefolding_compares_sharp_s_with_ss() -> None:
    """Comparison is casefolded: 'Weiß' matches 'WEISS' and 'weiss'."""
    context = PersonalContext(family_name="Weiß")
    assert codes(GUIDE, "XWEISS000q", context) == ["contains_personal_info"]
    assert codes(GUIDE, "Xweiss0000", context) == ["contains_personal_info"]


def test_personal_names_make_a_password_weak_through_zxcvbn() -> None:
    """With too_weak on, the person's data are zxcvbn user inputs: her id is easy to guess."""
    weak = PasswordPolicy.helen().check("131052-308T", ANNA)
    assert "too_weak" in [v.code for v in weak.violations]
    stranger = PasswordPolicy.helen().check("131052-308T", NOBODY)
    assert weak.strength.score < stranger.strength.score


def test_helen_without_strength_is_exactly_the_guides_rules() -> None:
    """min_strength=None drops too_weak; the requirements list the guide's five plus too_long."""
    policy = PasswordPolicy.helen(min_strength=None)
    assert codes(policy, "Password12") == []  # very common, but the guide's rules hold
    assert "too_weak" in codes(PasswordPolicy.helen(), "Password12")
    assert [code for code, _ in policy.requirements()] == [
        "too_short",
        "missing_digit",
        "missing_uppercase",
        "missing_lowercase",
        "contains_personal_info",
        "too_long",
    ]


def test_swedish_requirements_follow_the_guides_wording() -> None:
    """The checklist in Swedish reads as the registration guide does."""
    assert PasswordPolicy.helen().requirements("sv") == (
        ("too_short", "minst 10 tecken"),
        ("missing_digit", "minst en siffra"),
        ("missing_uppercase", "minst en stor bokstav"),
        ("missing_lowercase", "minst en liten bokstav"),
        (
            "contains_personal_info",
            "lösenordet får inte innehålla tre tecken i följd från användarens namn eller "
            "e-postadress",
        ),
        ("too_long", "högst 128 tecken"),
        ("too_weak", "inte lätt att gissa"),
    )


def test_requirements_and_messages_exist_in_finnish_and_english() -> None:
    """Each language has its own text for each rule, with the policy's numbers filled in."""
    finnish = dict(PasswordPolicy.helen().requirements("fi"))
    english = dict(PasswordPolicy.helen().requirements("en"))
    assert finnish["too_short"] == "vähintään 10 merkkiä"
    assert english["too_short"] == "at least 10 characters"
    result = PasswordPolicy.helen().check("a", NOBODY, language="fi")
    assert result.violations[0].message == "Salasanassa on oltava vähintään 10 merkkiä."


def test_the_asvs_profile_has_no_composition_rules() -> None:
    """ASVS: 15 characters, no character classes, no run rule; guessability and context words."""
    policy = PasswordPolicy.asvs()
    assert [code for code, _ in policy.requirements()] == ["too_short", "too_long", "too_weak"]
    assert codes(policy, "kuusi kuolevaa kettua") == []  # no digit, no uppercase: fine
    assert codes(policy, "kuusi kettua") == ["too_short"]
    assert codes(policy, "passwordpassword") == ["too_weak"]
    # her own email address is a context word: long enough, yet easy to guess
    assert codes(policy, "anna-liisa.virtanen@example.fi", ANNA) == ["too_weak"]
    assert codes(PasswordPolicy.asvs(min_length=20), "kuusi kuolevaa kettua") == []
    assert codes(PasswordPolicy.asvs(min_length=22), "kuusi kuolevaa kettua") == ["too_short"]


def test_context_words_count_against_a_password() -> None:
    """The service's own words (context_words) make a password built on them easy to guess."""
    password = "Helensahko2024"
    assert "too_weak" not in codes(PasswordPolicy.helen(), password)
    with_words = PasswordPolicy.helen(context_words=["helensahko"])
    assert "too_weak" in codes(with_words, password)


@pytest.mark.parametrize(
    "arguments",
    [
        {"max_length": 63},
        {"min_length": 7},
        {"min_length": 100, "max_length": 64},
        {"min_strength": 5},
        {"min_strength": -1},
    ],
)
def test_invalid_configurations_are_refused(arguments: dict[str, int]) -> None:
    """max_length never below 64 nor below min_length; min_length >= 8; scores are 0-4."""
    with pytest.raises(ValueError):  # noqa: PT011  # the message is checked per case below
        PasswordPolicy(**arguments)  # type: ignore[arg-type]  # ints for int fields


def test_invalid_configuration_messages_say_what_is_wrong() -> None:
    """The error names the limit that was broken."""
    with pytest.raises(ValueError, match="at least 64"):
        PasswordPolicy.helen(max_length=32)
    with pytest.raises(ValueError, match="min_length"):
        PasswordPolicy.asvs(min_length=4)


def test_an_unsupported_language_falls_back_to_english() -> None:
    """A language the policy does not speak gives the English texts; "fi-FI" gives Finnish."""
    policy = PasswordPolicy.helen()
    english = policy.check("x", NOBODY, language="en")
    assert policy.check("x", NOBODY, language="de") == english
    assert policy.check("x", NOBODY, language="fi-FI") == policy.check("x", NOBODY, "fi")
    assert policy.check("x", NOBODY, language="fi") != english


def test_violation_message_serves_the_cores_field_errors() -> None:
    """Without a policy the message omits numbers; with them it matches check()'s wording."""
    assert violation_message("too_short", "sv") == "Lösenordet är för kort."
    assert violation_message("too_short", "sv", min_length=15) == (
        "Lösenordet måste ha minst 15 tecken."
    )
    assert violation_message("missing_digit", "fi") == (
        "Salasanassa on oltava vähintään yksi numero."
    )
    assert violation_message("too_long") == "The password is too long."
    with pytest.raises(ValueError, match="unknown password policy code"):
        violation_message("invalid_email")


def test_the_policy_is_a_frozen_value() -> None:
    """Profiles are plain values: equal when configured alike, and immutable."""
    assert PasswordPolicy.helen() == PasswordPolicy()
    assert PasswordPolicy.helen(context_words="helen").context_words == ("helen",)
    policy = PasswordPolicy.asvs()
    with pytest.raises(AttributeError):
        policy.min_length = 8  # type: ignore[misc]  # frozen on purpose


def test_the_policy_is_the_cores_password_rules_port() -> None:
    """PasswordPolicy satisfies the PasswordRules port the flow is built with."""
    from regflow import ports

    port: ports.PasswordRules = PasswordPolicy.helen()
    assert isinstance(port, ports.PasswordRules)
    assert isinstance(PasswordPolicy.asvs(), ports.PasswordRules)


def test_the_asvs_profile_is_length_and_guessability_only() -> None:
    """`asvs()`: 15 to 128 characters, no composition or personal-information rule, the
    strength estimate at 3; each of its arguments is kept."""
    assert PasswordPolicy.asvs() == PasswordPolicy(
        min_length=15,
        max_length=128,
        require_digit=False,
        require_uppercase=False,
        require_lowercase=False,
        forbid_personal_info=False,
        min_strength=3,
        context_words=(),
    )
    custom = PasswordPolicy.asvs(
        min_length=20, max_length=64, min_strength=None, context_words="helen"
    )
    assert (custom.min_length, custom.max_length, custom.min_strength) == (20, 64, None)
    assert custom.context_words == ("helen",)
