"""An interactive terminal registration: the Helen guide's four phases on regflow's demo ports.

    python3 tasks.py demo [--language en|fi|sv] [--fast-hash] [--flow-ttl SECONDS]
    .venv/bin/python examples/cli/register.py [...]     # the same, once .venv exists

This is how a service embeds regflow: build the ports once, start a flow, then loop on
`flow.state`, show that phase, and call the one event the user chose. The library decides where
the flow goes; this file only asks and shows. The bank is the simulated one and the customers are
the demo customers of `regflow.adapters.memory`, chosen so that every outcome can be reached.

Texts: the library's own (error messages, field errors, password rules, the confirmation email)
come localised from regflow; this terminal's are in `texts.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
from collections.abc import Callable, Sequence
from typing import Any, Final

import attrs
from terminal import Terminal
from texts import Texts

from regflow import (
    AlreadyRegistered,
    Argon2Hasher,
    ContactDetails,
    CustomerServiceNeeded,
    DetailsRejected,
    FlowExpired,
    IdentificationFailed,
    Ports,
    RegflowError,
    RegistrationFlow,
    Settings,
    State,
    UnsupportedCustomerType,
    deliver_pending_emails,
)
from regflow.adapters.memory import (
    DEMO_PEOPLE,
    RecordingMailer,
    SimulatedBank,
    SystemClock,
    demo_ports,
)

# Phase 3's fields, in the guide's order.
FIELDS: Final = (
    "given_names",
    "family_name",
    "email",
    "phone",
    "street_address",
    "postal_code",
    "post_office",
    "language",
    "marketing_consent",
)

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


class Registration:
    """One registration at the terminal: asks, calls the flow's events, shows the outcome."""

    def __init__(self, ports: Ports, terminal: Terminal, texts: Texts) -> None:
        if not isinstance(ports.bank, SimulatedBank) or not isinstance(
            ports.mailer, RecordingMailer
        ):
            msg = "the terminal demo needs the simulated bank and the recording mailer"
            raise TypeError(msg)
        self.ports = ports
        self.bank: SimulatedBank = ports.bank
        self.mailer: RecordingMailer = ports.mailer
        self.term = terminal
        self.t = texts
        self.language = texts.language
        self.flow: RegistrationFlow | None = None

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> None:
        """From the customer type question to a terminal state, then the outcome."""
        self.term.say(self.t("title"))
        self.term.note(self.t("demo_note"))
        flow = self.start()
        if flow is None:
            return
        phases: dict[State, Callable[[RegistrationFlow], None]] = {
            State.choosing_bank: self.choose_bank,
            State.awaiting_bank: self.at_the_bank,
            State.confirming_personal_id: self.confirm_personal_id,
            State.entering_details: self.enter_details,
            State.reviewing: self.review,
        }
        while not flow.state.terminal:
            try:
                phases[flow.state](flow)
            except FlowExpired:
                pass  # the flow is now `expired`: the loop ends and the outcome says so
            except RegflowError as error:  # nothing changed: say why, and ask again
                self.term.say(f"! {error.message(self.language)}")
        self.show_outcome(flow)

    def start(self) -> RegistrationFlow | None:
        """The guide's start: self-service registration is for consumer customers."""
        self.term.say()
        self.term.say(self.t("start_question"))
        answer = self.choose([("1", self.t("consumer")), ("2", self.t("business"))], default="1")
        customer_type = "consumer" if answer == "1" else "business"
        try:
            self.flow = RegistrationFlow.start(
                self.ports, language=self.language, customer_type=customer_type
            )
        except UnsupportedCustomerType as error:
            self.term.say(error.message(self.language))
            return None
        return self.flow

    def abandon(self) -> None:
        """The user left (Ctrl-C, end of input): cancel the flow if it is still open."""
        if self.flow is not None and not self.flow.state.terminal:
            # leaving anyway: a flow that expired meanwhile is as closed as a cancelled one
            with contextlib.suppress(RegflowError):
                self.flow.cancel()

    # -- phase 1: identify --------------------------------------------------------------------

    def choose_bank(self, flow: RegistrationFlow) -> None:
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
                    limit=self.ports.settings.max_bank_failures,
                )
            )
        banks = list(flow.banks)
        not_listed = str(len(banks) + 1)
        options = [(str(number), bank.name) for number, bank in enumerate(banks, 1)]
        options += [(not_listed, self.t("bank_not_listed")), (CANCEL, self.t("cancel"))]
        answer = self.choose(options)
        if answer == CANCEL:
            flow.cancel()
        elif answer == not_listed:
            flow.bank_not_listed()
        else:
            flow.select_bank(banks[int(answer) - 1].id)

    def at_the_bank(self, flow: RegistrationFlow) -> None:
        """Phase 1 at the (simulated) bank: identify as someone, cancel, fail, or go back."""
        redirect = flow.redirect
        assert redirect is not None  # noqa: S101  # awaiting_bank always has a redirect
        bank_name = next((b.name for b in flow.banks if b.id == redirect.bank_id), "")
        self.term.say()
        self.term.say(self.t("bank_page", bank=bank_name))
        self.term.say("  " + self.t("bank_redirect", url=redirect.url))
        self.term.say(self.t("bank_people"))
        people = list(DEMO_HINTS)
        for number, code in enumerate(people, 1):
            name = " ".join(DEMO_PEOPLE[code])
            self.term.say(f"  {number:>2}) {code:<12} {name:<22} {self.t(DEMO_HINTS[code])}")
        cancel, error, back = (str(len(people) + n) for n in (1, 2, 3))
        for key, label in ((cancel, "bank_cancel"), (error, "bank_error"), (back, "bank_back")):
            self.term.say(f"  {key:>2}) {self.t(label)}")
        answer = ""
        while not answer:
            answer = self.term.ask(f"{self.t('bank_prompt')}: ").strip()
        if answer == back:
            flow.choose_other_bank()
            return
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
        flow.complete_identification(callback)
        if flow.state is State.confirming_personal_id and flow.data.person is not None:
            person = flow.data.person
            self.term.say(
                self.t("identified", name=f"{person.given_names} {person.family_name}".strip())
            )

    # -- phase 2: check the personal identity code --------------------------------------------

    def confirm_personal_id(self, flow: RegistrationFlow) -> None:
        """Phase 2: show the verified code; Next or cancel."""
        self.term.say()
        self.term.say(self.t("phase2"))
        self.term.say("  " + self.t("personal_id", code=flow.personal_id))
        answer = self.choose([("1", self.t("next")), (CANCEL, self.t("cancel"))], default="1")
        if answer == CANCEL:
            flow.cancel()
        else:
            flow.confirm_personal_id()

    # -- phase 3: user details and password ---------------------------------------------------

    def enter_details(self, flow: RegistrationFlow) -> None:
        """Phase 3: keep or edit each prefilled field, choose a password; fix what is rejected.

        After `edit` the flow still holds the reviewed details: they are the starting point then.
        """
        self.term.say()
        self.term.say(self.t("phase3"))
        self.term.note(self.t("details_intro"))
        details = self.ask_fields(flow.details or flow.prefilled or ContactDetails(), FIELDS)
        self.show_password_rules(flow)
        password = self.ask_password()
        while True:
            try:
                flow.submit_details(details, password)
            except DetailsRejected as rejected:
                self.term.say(self.t("fix"))
                for problem in rejected.errors:
                    label = self.t(f"field_{problem.field}")
                    self.term.say(f"  - {label}: {problem.message(self.language)}")
                bad = rejected.field_codes()
                fields = [f for f in FIELDS if f in bad]
                if not fields and "password" not in bad:
                    fields = list(FIELDS)  # a problem this example cannot place: ask for all
                details = self.ask_fields(details, fields)
                if "password" in bad:
                    password = self.ask_password()
            else:
                return

    def ask_fields(self, details: ContactDetails, names: Sequence[str]) -> ContactDetails:
        """Ask for each of `names`, the current value as the default; returns the new details."""
        required = self.ports.settings.required_fields
        changes: dict[str, Any] = {}  # str for text fields, bool for the consent
        for name in names:
            label = self.t(f"field_{name}") + ("*" if name in required else "")
            if name == "email":
                label += f" ({self.t('username_hint')})"
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

    def show_password_rules(self, flow: RegistrationFlow) -> None:
        """The policy's checklist, in the flow's language."""
        self.term.say(self.t("password_rules"))
        for _code, text in flow.requirements():
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

    def review(self, flow: RegistrationFlow) -> None:
        """Phase 4: the details as they will be saved; Approve, Edit or cancel."""
        details = flow.details
        assert details is not None  # noqa: S101  # reviewing always has details
        self.term.say()
        self.term.say(self.t("phase4"))
        for name in FIELDS:
            value = getattr(details, name)
            if isinstance(value, bool):
                value = self.t("yes") if value else self.t("no")
            self.term.say(f"  {self.t(f'field_{name}') + ':':<32} {value}")
        self.term.note(self.t("review_note"))
        answer = self.choose(
            [("1", self.t("approve")), ("2", self.t("edit")), (CANCEL, self.t("cancel"))]
        )
        if answer == "1":
            flow.approve(flow.review_token or "")
        elif answer == "2":
            flow.edit()
        else:
            flow.cancel()

    # -- outcomes -----------------------------------------------------------------------------

    def show_outcome(self, flow: RegistrationFlow) -> None:
        """What the terminal state means for the user, and what to do next."""
        outcome = flow.outcome
        self.term.say()
        if flow.state is State.completed and outcome is not None:
            self.show_completed(flow)
        elif flow.state is State.needs_customer_service and outcome is not None:
            reason = outcome.reason or ""
            phone = (outcome.contacts or (self.ports.settings.customer_service,))[0].phone
            self.term.say(self.t("customer_service_heading"))
            if reason == "identification_failed" and flow.last_error:
                self.term.say(IdentificationFailed(flow.last_error).message(self.language))
            self.term.say(self.t.get(f"reason_{reason}", reason))
            self.term.say(CustomerServiceNeeded(reason, phone=phone).message(self.language))
        elif flow.state is State.already_registered:
            self.term.say(AlreadyRegistered().message(self.language))
        elif flow.state is State.expired:
            self.term.say(FlowExpired().message(self.language))
        else:
            self.term.say(self.t("cancelled"))

    def show_completed(self, flow: RegistrationFlow) -> None:
        """Username, differences from the register, warnings with contacts, the email."""
        outcome = flow.outcome
        assert outcome is not None  # noqa: S101  # a completed flow has its outcome
        self.term.say(self.t("completed"))
        self.term.say(self.t("username", username=outcome.username))
        if outcome.changed_fields:
            fields = ", ".join(self.t(f"field_{f}") for f in outcome.changed_fields)
            self.term.note(self.t("changed_fields", fields=fields))
        for warning in outcome.warnings:
            self.term.say(f"! {self.t.get(f'warning_{warning}', warning)}")
        for contact in outcome.contacts:
            hours = f" ({contact.hours})" if contact.hours else ""
            label = self.t.get(f"contact_{contact.kind}", contact.kind)
            self.term.say(f"  {label}: {contact.phone}{hours}")
        # A real service runs the outbox relay in the background; the demo runs one pass.
        deliver_pending_emails(self.ports)
        for message in self.mailer.sent:
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


def build_ports(args: argparse.Namespace) -> Ports:
    """The demo ports, on the real clock so that a flow expires after its time to live."""
    hasher = Argon2Hasher.insecure_fast() if args.fast_hash else Argon2Hasher()
    settings = Settings()
    if args.flow_ttl is not None:
        settings = attrs.evolve(settings, flow_ttl=dt.timedelta(seconds=args.flow_ttl))
    return attrs.evolve(demo_ports(hasher=hasher, settings=settings), clock=SystemClock())


def _seconds(text: str) -> int:
    """A positive whole number of seconds (argparse reports anything else as a usage error)."""
    seconds = int(text)
    if seconds < 1:
        msg = f"not a positive number of seconds: {text}"
        raise argparse.ArgumentTypeError(msg)
    return seconds


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description="Register for Helen's e-services in the terminal (regflow demo)."
    )
    parser.add_argument(
        "--language", choices=("en", "fi", "sv"), default="en", help="language (default: en)"
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
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one registration; 0 whatever its outcome, 130 on Ctrl-C, 1 when input ends early."""
    args = parse_args(argv)
    texts = Texts(args.language)
    terminal = Terminal()
    registration = Registration(build_ports(args), terminal, texts)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
