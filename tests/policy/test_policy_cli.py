"""`regflow check-password`: reads a password (hidden prompt or stdin), prints the verdict."""

from __future__ import annotations

import argparse
import getpass
import io
import sys

import pytest

from regflow import check_password as _cli


def run_command(arguments: list[str]) -> int:
    """Parse `arguments` as the subcommand's and run it."""
    parser = argparse.ArgumentParser(prog="regflow check-password")
    _cli.add_arguments(parser)
    return _cli.run(parser.parse_args(arguments))


class Terminal(io.StringIO):
    """A stdin that says it is a terminal."""

    def isatty(self) -> bool:
        """Always a terminal."""
        return True


NAME = ["--given-names", "Anna-Liisa", "--family-name", "Virtanen"]
EMAIL = ["--email", "anna-liisa.virtanen@example.fi"]


def test_reads_stdin_and_prints_violations_in_the_chosen_language(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Piped in, 'Virtuoso2024x' for Anna-Liisa Virtanen is refused, in Swedish, exit 1."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("Virtuoso2024x\n"))
    assert run_command(["--language", "sv", *NAME, *EMAIL]) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        "Lösenordet uppfyller inte kraven:",
        "- contains_personal_info: Lösenordet får inte innehålla tre tecken i följd från ditt "
        "namn eller din e-postadress.",
        "Styrka: 3/4",
    ]
    assert "Virtuoso2024x" not in out


def test_an_acceptable_password_exits_zero(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A password meeting every rule prints so, with its strength, and exits 0."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("Kuusi kuolevaa Kettua 7\r\n"))
    assert run_command(["--language", "fi"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Salasana täyttää vaatimukset.",
        "Vahvuus: 4/4",
    ]


def test_a_terminal_gets_a_hidden_prompt(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a terminal the password is read with getpass, prompting in the chosen language."""
    prompts: list[str] = []

    def fake_getpass(prompt: str = "Password: ") -> str:
        prompts.append(prompt)
        return "qwerty"

    monkeypatch.setattr(sys, "stdin", Terminal())
    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    assert run_command(["--language", "fi", "--profile", "asvs"]) == 1
    assert prompts == ["Salasana: "]
    out = capsys.readouterr().out
    assert "- too_short: Salasanassa on oltava vähintään 15 merkkiä." in out
    assert "Varoitus: Tämä on yksi kymmenestä yleisimmästä salasanasta." in out
    assert "qwerty" not in out


def test_requirements_are_listed_without_reading_a_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """--requirements prints the checklist and reads nothing."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert run_command(["--requirements", "--language", "sv", "--min-strength", "none"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "Krav:",
        "- minst 10 tecken",
        "- minst en siffra",
        "- minst en stor bokstav",
        "- minst en liten bokstav",
        "- lösenordet får inte innehålla tre tecken i följd från användarens namn eller "
        "e-postadress",
        "- högst 128 tecken",
    ]


def test_an_invalid_policy_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A configuration the policy refuses exits 2 with the reason on stderr."""
    assert run_command(["--profile", "asvs", "--min-length", "4", "--requirements"]) == 2
    assert "min_length must be at least 8" in capsys.readouterr().err


def test_bad_option_values_are_refused_by_the_parser() -> None:
    """An unknown language or a strength outside 0-4 stops at argument parsing."""
    with pytest.raises(SystemExit):
        run_command(["--language", "de"])
    with pytest.raises(SystemExit):
        run_command(["--min-strength", "5"])


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (["--min-length", "12"], "--min-length applies to --profile asvs only"),
        (["--profile", "helen", "--min-length", "15"], "--min-length applies to --profile asvs"),
        (["--personal-id", "131052-308X"], "--personal-id is not a valid"),
        (["--personal-id", "not a code"], "--personal-id is not a valid"),
    ],
)
def test_options_the_run_cannot_use_exit_2(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    arguments: list[str],
    reason: str,
) -> None:
    """An option the profile ignores or an invalid code exits 2 before reading a password."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("Kukkaruukku7Q\n"))
    assert run_command(arguments) == 2
    captured = capsys.readouterr()
    assert reason in captured.err
    assert captured.out == ""
    assert "131052-308X" not in captured.err  # the code is personal data: not repeated
    assert sys.stdin.read() == "Kukkaruukku7Q\n"  # the password was not read


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2024-13-01", "expected a date as YYYY-MM-DD"),
        ("13.10.1952", "expected a date"),
        ("2999-01-01", "is in the future"),
    ],
)
def test_an_invalid_birth_date_exits_2(
    capsys: pytest.CaptureFixture[str], value: str, reason: str
) -> None:
    """--birth-date must be a real date in the past, YYYY-MM-DD, said in the message."""
    with pytest.raises(SystemExit) as info:
        run_command(["--birth-date", value])
    assert info.value.code == 2
    assert reason in capsys.readouterr().err


@pytest.mark.parametrize("given", ["", "\n", "\r\n"])
def test_empty_input_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], given: str
) -> None:
    """No password at all is a usage error, not a verdict on the empty password."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(given))
    assert run_command([]) == 2
    captured = capsys.readouterr()
    assert "no password given" in captured.err
    assert captured.out == ""


def test_valid_options_still_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid code and birth date, and --min-length with asvs, give a verdict."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("x\n"))
    assert run_command(["--personal-id", "131052-308T", "--birth-date", "1952-10-13"]) == 1
    monkeypatch.setattr(sys, "stdin", io.StringIO("correct horse battery staple\n"))
    assert run_command(["--profile", "asvs", "--min-length", "20"]) == 0
    assert "The password meets the requirements." in capsys.readouterr().out
