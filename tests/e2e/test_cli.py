"""The terminal example, end to end: `examples/cli/register.py` run as a user would run it.

Most tests pipe the answers into stdin; two run the script on a pseudo-terminal, where the
password prompt must not echo and Ctrl-C must end the registration cleanly. Every run happens in
the test's own temporary folder, on a SQLite file there (`--database-url`) unless the test says
otherwise, and uses `--fast-hash` (cheap argon2id), so each takes well under a few seconds.
"""

from __future__ import annotations

import codecs
import contextlib
import importlib.util
import os
import select
import signal
import sqlite3
import string
import subprocess
import sys
import termios
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "cli" / "register.py"
TIMEOUT = 30.0
DEFAULT_DATABASE = "regflow.sqlite3"  # without storage options: the relay's default too

# The menu numbers a user types: Nordea is the 4th of the simulated bank's 11 banks, so "my bank
# is not listed" is 12; on the bank page 7, 8 and 9 follow the six demo people.
CONSUMER, NORDEA, NOT_LISTED, CANCEL = "1", "4", "12", "0"
AT_BANK_CANCEL, AT_BANK_ERROR = "7", "8"
NEXT, APPROVE, EDIT, KEEP = "1", "1", "2", ""
PASSWORD = "Kukkaruukku7Q"  # good for Anna-Liisa and Matti; holds "kar" of Oskari's name
OSKARI_PASSWORD = "Tulppaani9Z"
# Phase 3's fields in order: given names, family name, email, phone, street address, postal
# code, post office, language, marketing consent.
KEEP_ALL = [KEEP] * 9


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONIOENCODING="utf-8", COLUMNS="100")
    env.pop(
        "REGFLOW_DEMO_DATABASE_URL", None
    )  # the developer's own database stays out of the tests
    # the script runs this source tree's regflow even where the package is not installed
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH")) if p)
    return env


class Cli:
    """Runs the script in one test's folder; by default on the SQLite file `demo.sqlite3` there."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.storage = ("--database-url", f"sqlite:///{folder / 'demo.sqlite3'}")

    def command(self, language: str = "en", *, storage: Sequence[str] | None = None) -> list[str]:
        """The command line; `storage` replaces the `--database-url` options."""
        chosen = self.storage if storage is None else storage
        return [sys.executable, str(SCRIPT), "--fast-hash", "--language", language, *chosen]

    def __call__(
        self, answers: Sequence[str], language: str = "en", *, storage: Sequence[str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the script with `answers` piped in, one per line."""
        result = subprocess.run(  # our own script, with the current interpreter
            self.command(language, storage=storage),
            input="".join(f"{a}\n" for a in answers),
            capture_output=True,
            text=True,
            encoding="utf-8",
            cwd=self.folder,
            env=_env(),
            timeout=TIMEOUT,
            check=False,
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """The script, run in this test's temporary folder."""
    return Cli(tmp_path)


def flat(text: str) -> str:
    """`text` with every run of whitespace as one space: prose wraps at the terminal's width."""
    return " ".join(text.split())


def details(*, email: str = KEEP, postal_code: str = KEEP) -> list[str]:
    """Answers for phase 3's fields: keep each prefilled value unless given."""
    answers = list(KEEP_ALL)
    answers[2], answers[5] = email, postal_code
    return answers


@pytest.mark.parametrize("storage", [None, ("--in-memory",)], ids=["sqlite", "in-memory"])
def test_completed_registration_with_a_new_email(cli: Cli, storage: Sequence[str] | None) -> None:
    """Anna-Liisa identifies, keeps her details but the email, approves: account, username, mail."""
    result = cli(
        [
            CONSUMER,
            NORDEA,
            "131052-308T",
            NEXT,
            *details(email="anna.liisa@example.org"),
            PASSWORD,
            PASSWORD,
            APPROVE,
        ],
        storage=storage,
    )
    out = result.stdout
    assert result.returncode == 0
    assert "Identified: Anna-Liisa Virtanen" in out
    assert "Personal identity code: 131052-308T" in out
    assert "Password requirements:\n  - " in out  # the policy's checklist, before the prompt
    review = out.split("Phase 4 of 4", 1)[1].split("Registration complete.", 1)[0]
    assert "Email address:" in review  # regflow.ui's review rows, as they will be saved
    assert "anna.liisa@example.org" in review
    assert "Preferred language:" in review
    assert "Finnish" in review  # kept from the register, shown in the flow's language
    assert "Registration complete." in out
    assert "Your username: anna.liisa@example.org" in out
    assert "differs from the customer register in: Email address." in out
    # an English flow, but her preferred language (kept from the register) is Finnish
    assert "Subject: Sähköisen asioinnin tilisi on valmis" in out
    assert "To: anna.liisa@example.org" in out
    assert "Continue to service selection." in out
    assert out.count("Subject:") == 1  # this registration's email only, not the demo account's
    assert PASSWORD not in out  # piped passwords are not echoed either
    if storage is None:
        assert _accounts(cli.folder / "demo.sqlite3") == {"131052-308T", "150380-123P"}
    else:
        assert "kept in memory" in out
        assert not any(cli.folder.iterdir())  # no database file anywhere


def test_default_database_keeps_accounts_between_runs(cli: Cli) -> None:
    """Without storage options a SQLite file in the current folder keeps the accounts, so a
    second run for the same person ends in already_registered."""
    oskari = [CONSUMER, NORDEA, "010594Y239M"]
    register = [NEXT, *KEEP_ALL, OSKARI_PASSWORD, OSKARI_PASSWORD, APPROVE]
    first = cli([*oskari, *register], storage=())
    assert first.returncode == 0
    assert "Your username: oskari.korhonen@example.fi" in first.stdout
    database = cli.folder / DEFAULT_DATABASE
    assert _accounts(database) == {"010594Y239M", "150380-123P"}  # Oskari and the demo account

    second = cli(oskari, storage=())  # a new process: only the database remembers Oskari
    out = second.stdout
    assert second.returncode == 0
    assert "010594Y239M  Oskari Korhonen        already has an account" in out
    assert "You already have an account." in out
    assert "this person registered in an earlier run" in flat(out)
    assert "Phase 2 of 4" not in out


def test_the_demo_and_the_relay_share_the_default_database() -> None:
    """The demo's default file is the one `regflow relay` and `regflow init-db` use."""
    from regflow.bootstrap import DEFAULT_DATABASE_URL

    assert f"sqlite:///{DEFAULT_DATABASE}" == DEFAULT_DATABASE_URL


def test_reset_empties_the_database_but_the_demo_account(cli: Cli) -> None:
    """After a registration, `--reset` forgets it; Johan's demo account is there again."""
    matti = [CONSUMER, NORDEA, "240467-541E"]
    registered = cli([*matti, NEXT, *KEEP_ALL, PASSWORD, PASSWORD, APPROVE])
    assert "Registration complete." in registered.stdout
    again = cli(matti, storage=(*cli.storage, "--reset"))
    assert again.returncode == 1  # the answers end in phase 2
    assert "Identified: Matti Meikäläinen" in again.stdout
    assert "150380-123P  Johan Eriksson         already has an account" in again.stdout
    assert _accounts(cli.folder / "demo.sqlite3") == {"150380-123P"}


def test_reset_refuses_a_database_server(cli: Cli) -> None:
    """`--reset` empties SQLite files only: a server's database may be a real service's."""
    result = cli([], storage=("--database-url", "postgresql://regflow@db.invalid/app", "--reset"))
    assert result.returncode == 2  # a usage error, before any connection is made
    assert "--reset empties SQLite databases only" in result.stderr


def test_a_refused_database_connection_says_so(cli: Cli) -> None:
    """A database server that is not listening: exit 1, `connection refused` in the chosen
    language, the URL with its password masked, no traceback."""
    url = "postgresql://regflow:s3cretPW@127.0.0.1:1/regflow"  # nothing listens on port 1
    english = cli([], storage=("--database-url", url))
    assert english.returncode == 1
    assert "connection refused" in english.stderr
    assert "postgresql://regflow:***@127.0.0.1:1/regflow" in english.stderr
    swedish = cli([], "sv", storage=("--database-url", url))
    assert "Databasen vägrade anslutningen" in swedish.stderr
    assert "s3cretPW" not in english.stderr + swedish.stderr


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("mysql://regflow:s3cretPW@db/regflow", "Unsupported database URL scheme 'mysql'"),
        ("postgresql://regflow:s3cretPW@db:port/regflow", "not a readable database URL"),
    ],
)
def test_a_database_url_regflow_cannot_use_exits_2(cli: Cli, url: str, says: str) -> None:
    """An unknown scheme or an unreadable URL is a usage error (exit 2) that never repeats it."""
    result = cli([], storage=("--database-url", url))
    assert result.returncode == 2
    assert says in result.stderr
    assert "s3cretPW" not in result.stderr


def _accounts(database: Path) -> set[str]:
    """The personal identity codes with an account in the demo's SQLite file."""
    with contextlib.closing(sqlite3.connect(database)) as connection:
        rows = connection.execute("SELECT personal_id FROM regflow_accounts").fetchall()
    return {code for (code,) in rows}


def test_no_customer_record_sends_to_customer_service(cli: Cli) -> None:
    """Erik is identified by his bank but has no customer record: call customer service."""
    result = cli([CONSUMER, NORDEA, "071290-873K"])
    assert result.returncode == 0
    assert "No customer record was found for your personal identity code." in result.stdout
    assert "Please contact customer service, 09 617 8080" in result.stdout
    assert "Phase 2 of 4" not in result.stdout


def test_bank_not_listed_sends_to_customer_service(cli: Cli) -> None:
    """Choosing "my bank is not listed" ends at customer service without visiting a bank."""
    result = cli([CONSUMER, NOT_LISTED])
    assert result.returncode == 0
    assert "My bank is not listed" in result.stdout
    assert "Your bank is not among those available for identification." in result.stdout
    assert "09 617 8080" in result.stdout
    assert "Simulated bank" not in result.stdout


def test_rejected_details_are_asked_again_field_by_field(cli: Cli) -> None:
    """Every problem is shown at once, and only the rejected field and the password are re-asked."""
    result = cli(
        [
            CONSUMER,
            NORDEA,
            "010594Y239M",
            NEXT,
            *details(postal_code="123"),
            PASSWORD,
            PASSWORD,
            "00530",  # only the postal code is asked again ...
            OSKARI_PASSWORD,  # ... and the password
            OSKARI_PASSWORD,
            APPROVE,
        ]
    )
    out = result.stdout
    assert result.returncode == 0
    assert "Please correct the following:" in out
    assert "- Postal code: A postal code has five digits." in out
    assert "- Password: The password must not contain three consecutive characters" in out
    assert out.count("Given names*") == 1  # the fields that were fine are not asked again
    assert out.count("Postal code* [") == 2
    assert "Your username: oskari.korhonen@example.fi" in out


def test_edit_from_review_keeps_the_details(cli: Cli) -> None:
    """Edit goes back to phase 3 with the reviewed details as defaults; approving then completes."""
    result = cli(
        [
            CONSUMER,
            NORDEA,
            "010594Y239M",
            NEXT,
            *details(email="oskari@example.org"),
            OSKARI_PASSWORD,
            OSKARI_PASSWORD,
            EDIT,
            *KEEP_ALL,
            OSKARI_PASSWORD,
            OSKARI_PASSWORD,
            APPROVE,
        ]
    )
    assert result.returncode == 0
    assert "Email address* (your username) [oskari@example.org]:" in result.stdout
    assert "Your username: oskari@example.org" in result.stdout


def test_district_heating_not_linked_shows_the_advisory(cli: Cli) -> None:
    """Matti completes, with the warning and the district heating advisory's number and hours."""
    result = cli([CONSUMER, NORDEA, "240467-541E", NEXT, *KEEP_ALL, PASSWORD, PASSWORD, APPROVE])
    assert result.returncode == 0
    assert "Registration complete." in result.stdout
    assert "! Your district heating contract could not be linked" in result.stdout
    assert "District heating advisory: 09 617 8013 (8.30\u201316.00)" in result.stdout


def test_third_failed_identification_ends_at_customer_service_in_finnish(cli: Cli) -> None:
    """A bank error, a cancel at the bank and an invalid code: the third failure ends the flow."""
    result = cli(
        [CONSUMER, NORDEA, AT_BANK_ERROR, NORDEA, AT_BANK_CANCEL, NORDEA, "not-a-code"],
        language="fi",
    )
    out = result.stdout
    assert result.returncode == 0
    assert "Epäonnistuneita tunnistautumisia: 1/3." in out
    assert "Epäonnistuneita tunnistautumisia: 2/3." in out
    assert "Tunnistautuminen pankissa ei onnistunut" in out
    assert "09 617 8080" in out


def test_already_registered_is_told_to_log_in_in_swedish(cli: Cli) -> None:
    """Johan already has an account: he is told to log in with his email address and password."""
    result = cli([CONSUMER, NORDEA, "150380-123P"], language="sv")
    assert result.returncode == 0
    assert "Du har redan ett konto." in result.stdout
    assert "Steg 2/4" not in result.stdout
    assert "Sparbanken" in result.stdout  # the bank list in Swedish
    assert "Mobilcertifikat" in result.stdout
    assert "Mobiilivarmenne" not in result.stdout


def test_business_customers_cannot_self_register(cli: Cli) -> None:
    """Starting as a business customer is refused with the library's message."""
    result = cli(["2"])
    assert result.returncode == 0
    assert "available to consumer customers only" in result.stdout
    assert "customer service, 09 617 8080" in result.stdout
    assert "Phase 1 of 4" not in result.stdout


def test_cancel_in_phase_two(cli: Cli) -> None:
    """Cancelling after identification ends the registration as cancelled."""
    result = cli([CONSUMER, NORDEA, "131052-308T", CANCEL])
    assert result.returncode == 0
    assert "The registration was cancelled." in result.stdout


def test_end_of_input_ends_cleanly(cli: Cli) -> None:
    """Input that ends mid-registration (Ctrl-D) gives a message and exit code 1, no traceback."""
    result = cli([CONSUMER, NORDEA])
    assert result.returncode == 1
    assert "Input ended. The registration was cancelled" in result.stdout


def test_invalid_menu_answers_are_asked_again(cli: Cli) -> None:
    """An answer that is not on the menu is refused with the choices, and asked again."""
    result = cli(["9", CONSUMER, "99", NOT_LISTED])
    assert result.returncode == 0
    assert "Please answer with one of: 1, 2." in result.stdout
    assert "Your bank is not among those available" in result.stdout


def test_a_registration_left_waiting_expires(cli: Cli) -> None:
    """An answer given after the flow's time to live has passed finds the registration expired."""
    process = subprocess.Popen(  # our own script, with the current interpreter
        [*cli.command("en"), "--flow-ttl", "1"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        cwd=cli.folder,
        env=_env(),
    )
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(f"{CONSUMER}\n{NORDEA}\n")
    process.stdin.flush()
    shown = ""
    for line in process.stdout:  # until the bank page is shown: the flow's clock is running
        shown += line
        if "Back to the bank list" in line:
            break
    time.sleep(1.5)  # the user is away longer than the flow's time to live
    rest, err = process.communicate("131052-308T\n", timeout=TIMEOUT)
    out = shown + rest
    assert process.returncode == 0
    assert "Traceback" not in err
    assert "The registration has expired. Please start again." in out
    assert "Phase 2 of 4" not in out


def test_every_language_has_every_text() -> None:
    """The terminal's sv, fi and en text tables have the same keys and the same placeholders."""
    spec = importlib.util.spec_from_file_location("cli_texts", SCRIPT.parent / "texts.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tables: dict[str, dict[str, str]] = module.TEXTS
    english = tables["en"]
    for language, table in tables.items():
        assert table.keys() == english.keys(), language
        for key, text in table.items():
            assert _placeholders(text) == _placeholders(english[key]), (language, key)


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


# -- on a pseudo-terminal -------------------------------------------------------------------------


class PtySession:
    """The parent side of a pseudo-terminal: wait for text, type lines."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.output = ""
        self._seen = 0
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def expect(self, text: str, timeout: float = 10.0) -> None:
        """Read until `text` appears after what was matched before."""
        deadline = time.monotonic() + timeout
        while (found := self.output.find(text, self._seen)) == -1:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"timed out waiting for {text!r}; the terminal shows:\n{self.output}")
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:  # EIO: the program exited and closed the terminal
                chunk = b""
            if not chunk:
                pytest.fail(
                    f"the program ended before {text!r}; the terminal shows:\n{self.output}"
                )
            self.output += self._decoder.decode(chunk).replace("\r\n", "\n")
        self._seen = found + len(text)

    def type(self, line: str) -> None:
        """Type `line` and Enter."""
        os.write(self.fd, f"{line}\n".encode())


@pytest.fixture
def terminal(cli: Cli) -> Iterator[tuple[PtySession, subprocess.Popen[bytes]]]:
    """The script started on a fresh pseudo-terminal (English), and the session to drive it."""
    parent, child = os.openpty()
    # A new session without a controlling terminal: getpass then hides the input on stdin (the
    # pseudo-terminal) instead of opening the /dev/tty of whoever runs the tests.
    process = subprocess.Popen(  # our own script, with the current interpreter
        cli.command("en"),
        stdin=child,
        stdout=child,
        stderr=child,
        cwd=cli.folder,
        env=_env(),
        start_new_session=True,
    )
    os.close(child)
    try:
        yield PtySession(parent), process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=TIMEOUT)
        os.close(parent)


def test_password_is_hidden_at_a_terminal(
    terminal: tuple[PtySession, subprocess.Popen[bytes]],
) -> None:
    """On a terminal the answers echo but the password does not, and the registration completes."""
    session, process = terminal
    for prompt, answer in [
        ("Choice [1]: ", CONSUMER),
        ("Choice: ", NORDEA),
        ("personal identity code: ", "010594Y239M"),
        ("Choice [1]: ", NEXT),
        *[("]: ", KEEP)] * 9,  # each prefilled field shows its value: "Phone* [+358...]: "
        ("Password (hidden): ", OSKARI_PASSWORD),
        ("Password again: ", OSKARI_PASSWORD),
        ("Choice: ", APPROVE),
    ]:
        session.expect(prompt)
        session.type(answer)
    session.expect("Continue to service selection.")
    assert process.wait(timeout=TIMEOUT) == 0
    assert "Choice or personal identity code: 010594Y239M\n" in session.output  # echoed
    assert OSKARI_PASSWORD not in session.output  # hidden
    assert "Your username: oskari.korhonen@example.fi" in session.output


def test_ctrl_c_at_the_password_prompt_ends_cleanly(
    terminal: tuple[PtySession, subprocess.Popen[bytes]],
) -> None:
    """Ctrl-C while the password is hidden: a message, exit code 130, and echo is back on."""
    session, process = terminal
    for prompt, answer in [
        ("Choice [1]: ", CONSUMER),
        ("Choice: ", NORDEA),
        ("personal identity code: ", "131052-308T"),
        ("Choice [1]: ", NEXT),
        *[("]: ", KEEP)] * 9,  # each prefilled field shows its value: "Phone* [+358...]: "
    ]:
        session.expect(prompt)
        session.type(answer)
    session.expect("Password (hidden): ")
    process.send_signal(signal.SIGINT)
    session.expect("Stopped. The registration was cancelled")
    assert termios.tcgetattr(session.fd)[3] & termios.ECHO  # getpass restored the terminal
    assert process.wait(timeout=TIMEOUT) == 130
    assert "Traceback" not in session.output
