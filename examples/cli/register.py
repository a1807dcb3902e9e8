"""An interactive terminal registration: the Helen guide's four phases, stored in SQLite.

    python3 tasks.py demo-cli [--language en|fi|sv] [--database-url URL | --in-memory] [--reset]
    .venv/bin/python examples/cli/register.py [...]     # the same, once .venv exists

This is how a service embeds regflow: build a `RegistrationService` once, with
`regflow.bootstrap.bootstrap(Config(...))`; start a flow and keep only its id (a web service
keeps it in the session); then, for each step, show the phase of the flow the service returned
and call the one event the user chose, by flow id. The service loads the flow, applies the
event and saves it in one unit of work; the library decides where the flow goes, this file only
asks and shows.

Storage: accounts, the email outbox and flows live in a SQLite file, `regflow.sqlite3` in the
current directory (the same default as `regflow relay` and `regflow init-db`), so they outlast
the process: whoever registered in an earlier run is
already registered in the next one (`--reset` empties the file first). `--database-url` (or
`REGFLOW_DEMO_DATABASE_URL`) picks another database; `--in-memory` keeps everything in memory.
A database that cannot be used says why (connection refused, host not found, login refused,
the SQLite file's folder missing) and ends with exit code 1; a URL regflow cannot use (an
unknown scheme, unreadable) with 2. The URL is shown with its password masked.
`regflow.bootstrap` wires it: the bank is the simulated one and the customers are the demo
customers of `regflow.demo`, chosen so that every outcome can be reached; their one existing
account, Johan Eriksson's, is copied into the database when it is not there yet.

Texts: the library's own (error messages, field errors, password rules, the confirmation email)
come localised from regflow; this terminal's are in `texts.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import signal
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

import attrs
import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from terminal import Terminal
from texts import Texts

from regflow import (
    AdapterError,
    AlreadyRegistered,
    Argon2Hasher,
    ContactDetails,
    CustomerServiceNeeded,
    DetailsRejected,
    FlowExpired,
    IdentificationFailed,
    RegflowError,
    RegistrationFlow,
    RegistrationService,
    Settings,
    State,
    UnsupportedCustomerType,
    UnsupportedDatabaseUrl,
    deliver_pending_emails,
    ui,
)
from regflow.adapters import sql
from regflow.adapters.memory import RecordingMailer, SimulatedBank
from regflow.adapters.sql import SqlStore
from regflow.bootstrap import (
    DEFAULT_DATABASE_URL,
    MEMORY_URL,
    Config,
    ConfigError,
    bootstrap,
    describe_database_url,
)
from regflow.demo import DEMO_PEOPLE

# The simulated bank's demo people, and what identifying as each of them leads to.
DEMO_HINTS: Final = {
    "131052-308T": "hint_completes",
    "010594Y239M": "hint_completes",
    "240467-541E": "hint_district_heating",
    "280699-255N": "hint_incomplete_contract_data",
    "071290-873K": "hint_customer_not_found",
    "150380-123P": "hint_already_registered",
}

CANCEL: Final = "0"
EXIT_INTERRUPTED: Final = 130  # the shell's code for a process stopped by Ctrl-C
EXIT_INPUT_ENDED: Final = 1
EXIT_STORAGE_FAILED: Final = 1
EXIT_BAD_DATABASE_URL: Final = 2  # like argparse's usage errors and `regflow relay`'s

# The README's database: what `regflow init-db` and `regflow relay` use without options, so the
# relay finds the demo's outbox. Its own variable, not REGFLOW_DATABASE_URL, which may name a
# real service's database.
DEMO_DATABASE_URL: Final = DEFAULT_DATABASE_URL
SUPPORTED_BACKENDS: Final = frozenset({"sqlite", "postgresql"})


class Registration:
    """One registration at the terminal: asks, calls the service's events, shows the outcome.

    Each phase method shows the flow it is given and returns the flow the service returned after
    the user's event; `flow` is the latest one, kept only to cancel it when the user leaves.
    """

    def __init__(
        self,
        service: RegistrationService,
        terminal: Terminal,
        texts: Texts,
        *,
        database: str | None,
        resettable: bool = False,
    ) -> None:
        """`database`: where the service keeps its data (None: in memory); `resettable`: whether
        `--reset` can empty it."""
        ports = service.ports
        if not isinstance(ports.bank, SimulatedBank) or not isinstance(
            ports.mailer, RecordingMailer
        ):
            msg = "the terminal demo needs the simulated bank and the recording mailer"
            raise TypeError(msg)
        self.service = service
        self.settings = ports.settings
        self.required: frozenset[str] = ports.settings.required_fields  # phase 3 updates it
        self.bank: SimulatedBank = ports.bank
        self.mailer: RecordingMailer = ports.mailer
        self.database = database
        self.resettable = resettable
        self.term = terminal
        self.t = texts
        self.language = texts.language
        self.flow: RegistrationFlow | None = None
        # the code last given at the bank: the flow forgets it when the registration ends there
        self.identified_as = ""

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> None:
        """From the customer type question to a terminal state, then the outcome."""
        self.term.say(self.t("title"))
        self.term.note(self.t("demo_note"))
        if self.database is None:
            self.term.note(self.t("storage_memory"))
        else:
            self.term.note(self.t("storage_database", database=self.database))
            self.reset_hint()
        flow = self.start()
        if flow is None:
            return
        phases: dict[State, Callable[[RegistrationFlow], RegistrationFlow]] = {
            State.choosing_bank: self.choose_bank,
            State.awaiting_bank: self.at_the_bank,
            State.confirming_personal_id: self.confirm_personal_id,
            State.entering_details: self.enter_details,
            State.reviewing: self.review,
        }
        try:
            while not flow.state.terminal:
                flow = self.flow = self.step(phases[flow.state], flow)
        except FlowExpired:
            # The service saved the flow as expired and answers `FlowExpired` for it from now
            # on: there is no flow to show, only the outcome.
            self.flow = None
            self.term.say()
            self.term.say(FlowExpired().message(self.language))
            return
        self.show_outcome(flow)

    def step(
        self, phase: Callable[[RegistrationFlow], RegistrationFlow], flow: RegistrationFlow
    ) -> RegistrationFlow:
        """One phase; after an error, which changed nothing, the flow as stored, to ask again."""
        try:
            return phase(flow)
        except FlowExpired:
            raise
        except RegflowError as error:
            self.term.say(f"! {error.message(self.language)}")
        # What a web page does after an error: show the stored flow. That is `flow` itself,
        # unless the error was `ConcurrentUpdate`: then it is the version that was saved first.
        return self.service.view(flow.id)

    def start(self) -> RegistrationFlow | None:
        """The guide's start: self-service registration is for consumer customers."""
        self.term.say()
        self.term.say(self.t("start_question"))
        answer = self.choose([("1", self.t("consumer")), ("2", self.t("business"))], default="1")
        customer_type = "consumer" if answer == "1" else "business"
        try:
            self.flow = self.service.start(language=self.language, customer_type=customer_type)
        except UnsupportedCustomerType as error:
            self.term.say(error.message(self.language))
            return None
        return self.flow

    def abandon(self) -> None:
        """The user left (Ctrl-C, end of input): cancel the flow if it is still open."""
        if self.flow is not None and not self.flow.state.terminal:
            # leaving anyway: a flow that expired meanwhile is as closed as a cancelled one
            with contextlib.suppress(RegflowError):
                self.service.cancel(self.flow.id)

    # -- phase 1: identify --------------------------------------------------------------------

    def choose_bank(self, flow: RegistrationFlow) -> RegistrationFlow:
        """Phase 1: the bank list, "my bank is not listed", or cancel."""
        self.term.say()
        self.term.say(self.t("phase1"))
        if flow.last_error:
            self.term.say(f"! {IdentificationFailed(flow.last_error).message(self.language)}")
            self.term.say(
                "  "
                + self.t(
                    "failed_attempts",
                    count=flow.bank_failures,
                    limit=self.settings.max_bank_failures,
                )
            )
        banks = list(flow.banks)
        not_listed = str(len(banks) + 1)
        options = [(str(number), bank.label(self.language)) for number, bank in enumerate(banks, 1)]
        options += [(not_listed, self.t("bank_not_listed")), (CANCEL, self.t("cancel"))]
        answer = self.choose(options)
        if answer == CANCEL:
            return self.service.cancel(flow.id)
        if answer == not_listed:
            return self.service.bank_not_listed(flow.id)
        return self.service.select_bank(flow.id, banks[int(answer) - 1].id)

    def at_the_bank(self, flow: RegistrationFlow) -> RegistrationFlow:
        """Phase 1 at the (simulated) bank: identify as someone, cancel, fail, or go back."""
        redirect = flow.redirect
        assert redirect is not None  # noqa: S101  # awaiting_bank always has a redirect
        bank_name = next(
            (b.label(self.language) for b in flow.banks if b.id == redirect.bank_id), ""
        )
        self.term.say()
        self.term.say(self.t("bank_page", bank=bank_name))
        self.term.say("  " + self.t("bank_redirect", url=redirect.url))
        self.term.say(self.t("bank_people"))
        people = list(DEMO_HINTS)
        for number, code in enumerate(people, 1):
            name = " ".join(DEMO_PEOPLE[code])
            # whoever registered in an earlier run (on a database) now has an account too
            registered = self.service.ports.accounts.exists_for_person(code)
            hint = self.t("hint_already_registered" if registered else DEMO_HINTS[code])
            self.term.say(f"  {number:>2}) {code:<12} {name:<22} {hint}")
        cancel, error, back = (str(len(people) + n) for n in (1, 2, 3))
        for key, label in ((cancel, "bank_cancel"), (error, "bank_error"), (back, "bank_back")):
            self.term.say(f"  {key:>2}) {self.t(label)}")
        answer = ""
        while not answer:
            answer = self.term.ask(f"{self.t('bank_prompt')}: ").strip()
        if answer == back:
            return self.service.choose_other_bank(flow.id)
        if answer == cancel:
            callback = self.bank.cancel(redirect)
        elif answer == error:
            callback = self.bank.fail(redirect)
        else:
            # a number picks a demo person; anything else is a code typed at the bank (the flow
            # checks it: an invalid code is a failed identification)
            known = answer.isdigit() and 1 <= int(answer) <= len(people)
            code = people[int(answer) - 1] if known else answer.upper()
            callback = self.bank.approve(redirect, personal_id=code)
            self.identified_as = code
        flow = self.service.complete_identification(flow.id, callback)
        if flow.state is State.confirming_personal_id and flow.data.person is not None:
            person = flow.data.person
            self.term.say(
                self.t("identified", name=f"{person.given_names} {person.family_name}".strip())
            )
        return flow

    # -- phase 2: check the personal identity code --------------------------------------------

    def confirm_personal_id(self, flow: RegistrationFlow) -> RegistrationFlow:
        """Phase 2: show the verified code; Next or cancel."""
        self.term.say()
        self.term.say(self.t("phase2"))
        self.term.say("  " + self.t("personal_id", code=flow.personal_id))
        answer = self.choose([("1", self.t("next")), (CANCEL, self.t("cancel"))], default="1")
        if answer == CANCEL:
            return self.service.cancel(flow.id)
        return self.service.confirm_personal_id(flow.id)

    # -- phase 3: user details and password ---------------------------------------------------

    def enter_details(self, flow: RegistrationFlow) -> RegistrationFlow:
        """Phase 3: keep or edit each prefilled field, choose a password; fix what is rejected.

        After `edit` the flow still holds the reviewed details: they are the starting point then.
        """
        self.term.say()
        self.term.say(self.t("phase3"))
        self.term.note(self.t("details_intro"))
        # regflow.ui says which fields phase 3 has and which are required (the settings decide)
        page = ui.page(flow, language=self.language)
        names = tuple(f.name for f in page.fields if f.input_type != "password")
        self.required = frozenset(f.name for f in page.fields if f.required)
        details = self.ask_fields(flow.details or flow.prefilled or ContactDetails(), names)
        self.show_password_rules(page)
        password = self.ask_password()
        while True:
            try:
                return self.service.submit_details(flow.id, details, password)
            except DetailsRejected as rejected:
                self.term.say(self.t("fix"))
                for problem in rejected.errors:
                    label = ui.text(f"field.{problem.field}", self.language)
                    self.term.say(f"  - {label}: {problem.message(self.language)}")
                bad = rejected.field_codes()
                fields = [f for f in names if f in bad]
                if not fields and "password" not in bad:
                    fields = list(names)  # a problem this example cannot place: ask for all
                details = self.ask_fields(details, fields)
                if "password" in bad:
                    password = self.ask_password()

    def ask_fields(self, details: ContactDetails, names: Sequence[str]) -> ContactDetails:
        """Ask for each of `names`, the current value as the default; returns the new details."""
        required = self.required
        changes: dict[str, Any] = {}  # str for text fields, bool for the consent
        for name in names:
            label = ui.text(f"field.{name}", self.language) + ("*" if name in required else "")
            if name == "email":
                label += f" ({self.t('username_hint')})"
            if name == "language":
                label += " (sv/fi/en)"
            if name == "marketing_consent":
                changes[name] = self.ask_yes_no(label, default=details.marketing_consent)
                continue
            current: str = getattr(details, name)
            shown = f" [{current}]" if current else ""
            answer = self.term.ask(f"  {label}{shown}: ").strip()
            changes[name] = current if not answer else "" if answer == "-" else answer
        return attrs.evolve(details, **changes)

    def ask_yes_no(self, label: str, *, default: bool) -> bool:
        """A yes/no question in the user's language; Enter keeps `default`."""
        yes, no = self.t.words("yes_words"), self.t.words("no_words")
        shown = self.t("yes_no").split("/")[0 if default else 1]
        while True:
            answer = self.term.ask(f"  {label} ({self.t('yes_no')}) [{shown}]: ").strip().casefold()
            if not answer:
                return default
            if answer in yes or answer in no:
                return answer in yes
            self.term.say(self.t("answer_yes_no"))

    def show_password_rules(self, page: ui.Page) -> None:
        """The policy's checklist, from phase 3's UI model."""
        self.term.say(self.t("password_rules"))
        for _code, text in page.requirements:
            self.term.say(f"  - {text}")

    def ask_password(self) -> str:
        """The password, hidden, twice; asks again until both match."""
        while True:
            first = self.term.secret(f"  {self.t('password_prompt')}: ")
            second = self.term.secret(f"  {self.t('password_again')}: ")
            if first == second:
                return first
            self.term.say(self.t("password_mismatch"))

    # -- phase 4: confirmation ----------------------------------------------------------------

    def review(self, flow: RegistrationFlow) -> RegistrationFlow:
        """Phase 4: the details as they will be saved; Approve, Edit or cancel."""
        self.term.say()
        self.term.say(self.t("phase4"))
        for row in ui.page(flow, language=self.language).summary:  # the library's review rows
            self.term.say(f"  {row.label + ':':<32} {row.value}")
        self.term.note(self.t("review_note"))
        answer = self.choose(
            [("1", self.t("approve")), ("2", self.t("edit")), (CANCEL, self.t("cancel"))]
        )
        if answer == "1":
            return self.service.approve(flow.id, flow.review_token or "")
        if answer == "2":
            return self.service.edit(flow.id)
        return self.service.cancel(flow.id)

    # -- outcomes -----------------------------------------------------------------------------

    def show_outcome(self, flow: RegistrationFlow) -> None:
        """What the terminal state means for the user, and what to do next."""
        outcome = flow.outcome
        self.term.say()
        if flow.state is State.completed and outcome is not None:
            self.show_completed(flow)
        elif flow.state is State.needs_customer_service and outcome is not None:
            reason = outcome.reason or ""
            phone = (outcome.contacts or (self.settings.customer_service,))[0].phone
            self.term.say(self.t("customer_service_heading"))
            if reason == "identification_failed" and flow.last_error:
                self.term.say(IdentificationFailed(flow.last_error).message(self.language))
            self.term.say(self.t.get(f"reason_{reason}", reason))
            self.term.say(CustomerServiceNeeded(reason, phone=phone).message(self.language))
        elif flow.state is State.already_registered:
            self.term.say(AlreadyRegistered().message(self.language))
            if self.database is not None and not _seeded(self.identified_as):
                self.term.note(self.t("registered_earlier"))
                self.reset_hint()
        else:
            self.term.say(self.t("cancelled"))

    def reset_hint(self) -> None:
        """How to forget the earlier runs' accounts, where `--reset` can."""
        if self.resettable:
            self.term.note(self.t("reset_hint"))

    def show_completed(self, flow: RegistrationFlow) -> None:
        """Username, differences from the register, warnings with contacts, the email."""
        outcome = flow.outcome
        assert outcome is not None  # noqa: S101  # a completed flow has its outcome
        # The finished flow keeps no personal data: the username comes from the new account.
        account = self.service.account(outcome.account_id or "")
        assert account is not None  # noqa: S101  # approve created it in the same unit of work
        self.term.say(self.t("completed"))
        self.term.say(self.t("username", username=account.username))
        if outcome.changed_fields:
            fields = ", ".join(ui.text(f"field.{f}", self.language) for f in outcome.changed_fields)
            self.term.note(self.t("changed_fields", fields=fields))
        for warning in outcome.warnings:
            self.term.say(f"! {self.t.get(f'warning_{warning}', warning)}")
        for contact in outcome.contacts:
            hours = f" ({contact.hours})" if contact.hours else ""
            label = self.t.get(f"contact_{contact.kind}", contact.kind)
            self.term.say(f"  {label}: {contact.phone}{hours}")
        # A real service runs the outbox relay (`regflow relay`) in the background; the demo runs
        # one pass, and shows this registration's email (a pass also sends any email an earlier
        # run queued but did not get to send).
        deliver_pending_emails(self.service.ports)
        for message in self.mailer.sent:
            if message.to != account.username:
                continue
            self.term.say()
            self.term.say(self.t("email_heading"))
            self.term.say(f"  {self.t('email_to')}: {message.to}")
            self.term.say(f"  {self.t('email_subject')}: {message.subject}")
            for line in message.text.rstrip("\n").splitlines():
                self.term.say(f"  | {line}".rstrip())
        self.term.say()
        self.term.say(f"-> {self.t('continue')}")

    # -- asking -------------------------------------------------------------------------------

    def choose(self, options: Sequence[tuple[str, str]], default: str | None = None) -> str:
        """A numbered menu; returns the chosen key (Enter picks `default`, when there is one)."""
        for key, label in options:
            self.term.say(f"  {key:>2}) {label}")
        keys = [key for key, _ in options]
        prompt = f"{self.t('choice')}{f' [{default}]' if default else ''}: "
        while True:
            answer = self.term.ask(prompt).strip()
            if not answer and default is not None:
                return default
            if answer in keys:
                return answer
            self.term.say(self.t("invalid_choice", choices=", ".join(keys)))


def _seeded(personal_id: str) -> bool:
    """Whether this demo person has an account from the start (Johan), not from an earlier run."""
    return DEMO_HINTS.get(personal_id) == "hint_already_registered"


# -- building the service -----------------------------------------------------------------------


def open_service(
    args: argparse.Namespace, resources: contextlib.ExitStack
) -> tuple[RegistrationService, str | None]:
    """The service over a database (or in memory), and where it keeps its data, for the user.

    `regflow.bootstrap` builds the demo (simulated bank, demo customers, Johan's account,
    recording mailer) on the real clock, so that a flow expires after its time to live; on a
    database it creates the tables and copies Johan's account in where it is missing.
    """
    hasher = Argon2Hasher.insecure_fast() if args.fast_hash else Argon2Hasher()
    settings = Settings()
    if args.flow_ttl is not None:
        settings = attrs.evolve(settings, flow_ttl=dt.timedelta(seconds=args.flow_ttl))
    url = MEMORY_URL if args.in_memory else args.database_url
    if args.reset:  # before bootstrap adds the demo account again
        with SqlStore.from_url(url) as store:
            store.create_schema()
            empty_database(store)
    app = resources.enter_context(
        bootstrap(Config(database_url=url, demo=True, settings=settings), hasher=hasher)
    )
    if args.in_memory:
        return app.service, None
    app.service.purge_expired()  # a real service runs this periodically (the relay does)
    return app.service, describe_database(args.database_url)


def empty_database(store: SqlStore) -> None:
    """`--reset`: delete every row of regflow's tables (accounts, outbox, flows, login failures).

    The tables stay; the demo accounts are copied in again afterwards.
    """
    with sql_errors(), store.engine.begin() as connection:
        for table in reversed(sql.metadata.sorted_tables):  # the outbox before its accounts
            connection.execute(table.delete())


@contextlib.contextmanager
def sql_errors() -> Iterator[None]:
    """A database error from a statement of this file, as regflow's adapters report theirs."""
    try:
        yield
    except SQLAlchemyError as error:
        raise AdapterError("storage", type(error).__name__) from error


def describe_database(url: str) -> str:
    """Where the data is, for the user: a SQLite file's full path, else the URL sans password."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in {None, "", ":memory:"}:
        return os.path.abspath(parsed.database or "")
    return describe_database_url(url)


def resettable(url: str) -> bool:
    """Whether `--reset` may empty this database: SQLite only.

    A database server's may well be a real service's database (the URL can come from the
    environment), and a demo should not be one option away from emptying it.
    """
    return sa.make_url(url).get_backend_name() == "sqlite"


# -- the command line ---------------------------------------------------------------------------


def _seconds(text: str) -> int:
    """A positive whole number of seconds (argparse reports anything else as a usage error)."""
    seconds = int(text)
    if seconds < 1:
        msg = f"not a positive number of seconds: {text}"
        raise argparse.ArgumentTypeError(msg)
    return seconds


def _database_url(text: str) -> str:
    """A SQLAlchemy database URL (argparse reports a malformed one as a usage error)."""
    # the messages never repeat `text`: it may hold a password
    try:
        url = sa.make_url(text)
    except (ArgumentError, ValueError):
        msg = f"not a readable database URL (for example {DEMO_DATABASE_URL})"
        raise argparse.ArgumentTypeError(msg) from None
    if url.get_backend_name() not in SUPPORTED_BACKENDS:
        scheme = UnsupportedDatabaseUrl(url.drivername).message("en").rstrip(".")
        raise argparse.ArgumentTypeError(scheme)
    if url.get_backend_name() == "sqlite" and url.database not in {None, "", ":memory:"}:
        folder = os.path.dirname(os.path.abspath(url.database or ""))
        if not os.path.isdir(folder):  # SQLite creates the file, but not its folder
            msg = f"no such folder for the SQLite file: {folder}"
            raise argparse.ArgumentTypeError(msg)
    return text


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Register for Helen's e-services in the terminal (regflow demo).",
        epilog=(
            "Accounts and registrations are kept in a database, so whoever registered in an "
            "earlier run is already registered in the next one; --reset starts afresh."
        ),
    )
    parser.add_argument(
        "--language", choices=("en", "fi", "sv"), default="en", help="language (default: en)"
    )
    storage = parser.add_mutually_exclusive_group()
    storage.add_argument(
        "--database-url",
        type=_database_url,
        metavar="URL",
        # read when parsing, not at import
        default=os.environ.get("REGFLOW_DEMO_DATABASE_URL") or DEMO_DATABASE_URL,
        help=(
            "SQLAlchemy URL of the database for accounts, emails and registrations "
            f"(env REGFLOW_DEMO_DATABASE_URL; default: {DEMO_DATABASE_URL}, the file "
            "regflow.sqlite3 in the current directory, created when missing; the same as "
            "regflow relay's)"
        ),
    )
    storage.add_argument(
        "--in-memory",
        action="store_true",
        help="keep everything in memory instead, forgotten when the demo ends",
    )
    parser.add_argument(
        "--reset",
        action="store_true",
        help="empty the database's regflow tables first (SQLite only): nobody is registered "
        "but the demo account",
    )
    parser.add_argument(
        "--fast-hash",
        action="store_true",
        help="cheap argon2id parameters, for tests only (default: OWASP's parameters)",
    )
    parser.add_argument(
        "--flow-ttl",
        type=_seconds,
        metavar="SECONDS",
        help="how long the registration waits for the user (default: 30 minutes)",
    )
    args = parser.parse_args(argv)
    if args.reset and args.in_memory:
        parser.error("--reset empties a database; --in-memory uses none")
    if args.reset and not resettable(args.database_url):
        parser.error("--reset empties SQLite databases only; use your database's own tools")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run one registration: 0 whatever its outcome, 130 on Ctrl-C, 1 on early end of input.

    1 also when the database cannot be opened or fails during the registration (the message says
    why), 2 for a database URL regflow cannot use.
    """
    args = parse_args(argv)
    # "Ctrl-C stops" must hold even when started from a shell that ignores SIGINT for its
    # background jobs (Python then keeps the inherited SIG_IGN and never raises KeyboardInterrupt).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    texts = Texts(args.language)
    terminal = Terminal()
    with contextlib.ExitStack() as resources:
        try:
            service, database = open_service(args, resources)
        # ArgumentError, ConfigError (UnsupportedDatabaseUrl): a URL regflow cannot use
        except (ArgumentError, ConfigError) as error:
            known = error if isinstance(error, RegflowError) else None
            text = (known or UnsupportedDatabaseUrl("", malformed=True)).message(args.language)
            print(f"register.py: {text}", file=sys.stderr)
            return EXIT_BAD_DATABASE_URL
        # DatabaseUnavailable, SchemaMissing: their message says which; ImportError: no driver
        except (AdapterError, ImportError) as error:
            where = describe_database(args.database_url)
            text = error.message(args.language) if isinstance(error, AdapterError) else str(error)
            print(f"register.py: cannot use the database {where}: {text}", file=sys.stderr)
            return EXIT_STORAGE_FAILED
        registration = Registration(
            service, terminal, texts, database=database, resettable=resettable(args.database_url)
        )
        try:
            registration.run()
        except KeyboardInterrupt:
            registration.abandon()
            terminal.say()
            terminal.say(texts("interrupted"))
            return EXIT_INTERRUPTED
        except EOFError:  # Ctrl-D at a terminal, or the end of piped input
            registration.abandon()
            terminal.say()
            terminal.say(texts("input_ended"))
            return EXIT_INPUT_ENDED
        except AdapterError as error:  # the database failed mid-registration
            terminal.say(f"! {error.message(args.language)}")
            return EXIT_STORAGE_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
