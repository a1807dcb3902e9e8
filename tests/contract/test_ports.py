"""One contract per port, run on the fake and the real adapter alike (see test_stores.py).

`BankIdentity`: `SimulatedBank` and `OidcBankIdentity` against the repo's oidc-provider.
`Mailer`: `RecordingMailer` and `SmtpMailer` against aiosmtpd. `CustomerDirectory`: the
in-memory directory and `HttpCustomerDirectory` against a loopback customer data system. Each
adapter comes with a small driver that plays the outside world's part: the user at the bank,
the mail server's inbox, an outage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pytest

from regflow.adapters.memory import (
    DEMO_CUSTOMERS,
    InMemoryCustomerDirectory,
    RecordingMailer,
    SimulatedBank,
)
from regflow.errors import AdapterError, CallbackMismatch, IdentificationFailed, UnknownBank
from regflow.model import BankCallback, BankRedirect, EmailMessage
from regflow.ports import BankIdentity, CustomerDirectory, Mailer
from tests.http_customers_fixtures import TOKEN, CustomerApi, status
from tests.oidc_fixtures import OidcProviderProcess
from tests.smtp_fixtures import SmtpServer, free_port

ANNA = DEMO_CUSTOMERS[0]  # known to both banks (tests/oidc_fixtures.py: account "anna")


# -- BankIdentity ------------------------------------------------------------------------------


@attrs.frozen
class BankDriver:
    """A bank adapter, and the user's part at the bank: approve as Anna, or cancel."""

    bank: BankIdentity
    approve: Callable[[BankRedirect], BankCallback]
    cancel: Callable[[BankRedirect], BankCallback]


@pytest.fixture(params=["simulated", "oidc"])
def bank(request: pytest.FixtureRequest) -> Iterator[BankDriver]:
    """Each bank adapter with its driver."""
    if request.param == "simulated":
        simulated = SimulatedBank(people={ANNA.personal_id: ("Anna-Liisa", "Virtanen")})
        yield BankDriver(
            simulated,
            approve=lambda r: simulated.approve(r, personal_id=ANNA.personal_id),
            cancel=simulated.cancel,
        )
        return
    broker: OidcProviderProcess = request.getfixturevalue("oidc_broker")
    with broker.adapter() as oidc:
        yield BankDriver(
            oidc,
            approve=lambda r: broker.login(r, account="anna"),
            cancel=lambda r: broker.login(r, cancel=True),
        )


def _begin(driver: BankDriver, flow_id: str = "flow-1") -> BankRedirect:
    bank_id = driver.bank.banks()[0].id
    return driver.bank.begin(bank_id, flow_id=flow_id, language="fi")


def test_banks_are_listed_with_ids_and_names(bank: BankDriver) -> None:
    """banks() lists at least one bank, each with a unique non-empty id and a name."""
    banks = bank.bank.banks()
    assert banks
    assert all(b.id and b.name for b in banks)
    assert len({b.id for b in banks}) == len(banks)


def test_begin_gives_a_redirect_with_fresh_state_and_nonce(bank: BankDriver) -> None:
    """Two begins for one bank give two redirects with different state and nonce."""
    first, second = _begin(bank, "flow-1"), _begin(bank, "flow-2")
    assert first.url.startswith(("https://", "http://"))
    assert first.bank_id == bank.bank.banks()[0].id
    assert first.state
    assert first.nonce
    assert first.state != second.state
    assert first.nonce != second.nonce


def test_an_unknown_bank_raises_unknown_bank(bank: BankDriver) -> None:
    """begin() with an id that banks() does not list raises UnknownBank."""
    with pytest.raises(UnknownBank):
        bank.bank.begin("no-such-bank", flow_id="flow-1", language="fi")


def test_an_approved_identification_completes_to_the_person(bank: BankDriver) -> None:
    """The callback after the user identified gives the verified person with their names."""
    redirect = _begin(bank)
    person = bank.bank.complete(bank.approve(redirect), redirect)
    assert person.personal_id == ANNA.personal_id
    assert (person.given_names, person.family_name) == ("Anna-Liisa", "Virtanen")


def test_a_cancel_raises_identification_cancelled(bank: BankDriver) -> None:
    """The user cancelling at the bank raises IdentificationFailed(identification_cancelled)."""
    redirect = _begin(bank)
    with pytest.raises(IdentificationFailed) as failed:
        bank.bank.complete(bank.cancel(redirect), redirect)
    assert failed.value.code == "identification_cancelled"


def test_a_bank_error_raises_identification_failed_with_a_code(bank: BankDriver) -> None:
    """An error answer from the bank raises IdentificationFailed carrying a code."""
    redirect = _begin(bank)
    callback = BankCallback({"state": redirect.state, "error": "server_error"})
    with pytest.raises(IdentificationFailed) as failed:
        bank.bank.complete(callback, redirect)
    assert failed.value.code
    assert failed.value.code != "identification_cancelled"


@pytest.mark.parametrize("state", ["wrong", "missing"])
def test_a_wrong_or_missing_state_raises_callback_mismatch(bank: BankDriver, state: str) -> None:
    """A callback whose state is not the flow's, or that has none, raises CallbackMismatch
    (code state_mismatch) before redeeming anything: the real callback still completes."""
    redirect = _begin(bank)
    callback = bank.approve(redirect)
    params = {k: v for k, v in callback.params.items() if k != "state"}
    if state == "wrong":
        params["state"] = redirect.state + "x"
    with pytest.raises(CallbackMismatch) as failed:
        bank.bank.complete(BankCallback(params), redirect)
    assert failed.value.code == "state_mismatch"
    assert bank.bank.complete(callback, redirect).personal_id


def test_a_code_cannot_be_redeemed_twice(bank: BankDriver) -> None:
    """The second complete() with one callback raises IdentificationFailed(code_rejected)."""
    redirect = _begin(bank)
    callback = bank.approve(redirect)
    bank.bank.complete(callback, redirect)
    with pytest.raises(IdentificationFailed) as failed:
        bank.bank.complete(callback, redirect)
    assert failed.value.code == "code_rejected"


# -- Mailer ------------------------------------------------------------------------------------

SENDER = "no-reply@example.fi"
MESSAGE = EmailMessage(
    message_id="regflow.contract-1",
    to="anna-liisa.virtanen@example.fi",
    subject="Tervetuloa",
    text="Rekisteröityminen onnistui.\n",
    html="<p>Rekisteröityminen onnistui.</p>",
)


@attrs.frozen
class MailDriver:
    """A mailer, what arrived through it (id, to, subject, text), and how to make it refuse."""

    mailer: Mailer
    arrived: Callable[[], list[tuple[str, str, str, str]]]
    refusing: Callable[[], Mailer]


class _Refusing:
    """An aiosmtpd handler that refuses every message."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # aiosmtpd's hook
        """Refuse the message."""
        return "554 5.7.1 Message refused"


@pytest.fixture(params=["recording", "smtp"])
def mail(request: pytest.FixtureRequest) -> Iterator[MailDriver]:
    """Each mailer with its driver."""
    if request.param == "recording":
        recording = RecordingMailer()

        def refusing_fake() -> Mailer:
            down = RecordingMailer()
            down.outage = True
            return down

        yield MailDriver(
            recording,
            arrived=lambda: [(m.message_id, m.to, m.subject, m.text) for m in recording.sent],
            refusing=refusing_fake,
        )
        return
    from aiosmtpd.controller import Controller

    from regflow.adapters.smtp import SmtpConfig, SmtpMailer, message_id_header

    server: SmtpServer = request.getfixturevalue("smtp_server")
    refuser = Controller(_Refusing(), hostname="127.0.0.1", port=free_port())
    refuser.start()
    ids = {message_id_header(MESSAGE.message_id, "example.fi"): MESSAGE.message_id}

    def arrived() -> list[tuple[str, str, str, str]]:
        return [
            (
                ids.get(m["Message-ID"], m["Message-ID"]),
                m["To"],
                m["Subject"],
                # SMTP carries lines ending in CRLF; the text is the same
                m.get_body(("plain",)).get_content().replace("\r\n", "\n"),  # type: ignore[union-attr]
            )
            for m in server.inbox.messages
        ]

    try:
        yield MailDriver(
            SmtpMailer(SmtpConfig(sender=SENDER, host=server.host, port=server.port, timeout=5)),
            arrived=arrived,
            refusing=lambda: SmtpMailer(
                SmtpConfig(sender=SENDER, host="127.0.0.1", port=refuser.port, timeout=5)
            ),
        )
    finally:
        refuser.stop()


def test_a_sent_message_arrives_with_its_id_to_subject_and_text(mail: MailDriver) -> None:
    """send() delivers the message, recognisable by its id, with its recipient, subject, text."""
    mail.mailer.send(MESSAGE)
    assert mail.arrived() == [(MESSAGE.message_id, MESSAGE.to, MESSAGE.subject, MESSAGE.text)]


def test_a_refusal_raises_adapter_error(mail: MailDriver) -> None:
    """A mail system that refuses the message (or is down) raises AdapterError."""
    with pytest.raises(AdapterError) as error:
        mail.refusing().send(MESSAGE)
    assert error.value.port == "mailer"
    assert mail.arrived() == []


# -- CustomerDirectory -------------------------------------------------------------------------


@attrs.frozen
class DirectoryDriver:
    """A customer directory holding the demo customers, and how to make its system fail."""

    directory: CustomerDirectory
    fail: Callable[[], None]


@pytest.fixture(params=["memory", "http"])
def directory_driver(request: pytest.FixtureRequest) -> Iterator[DirectoryDriver]:
    """Each customer directory with its driver."""
    if request.param == "memory":
        memory = InMemoryCustomerDirectory(DEMO_CUSTOMERS)
        yield DirectoryDriver(memory, fail=lambda: setattr(memory, "outage", True))
        return
    from regflow.adapters.http_customers import HttpCustomerDirectory, HttpCustomersConfig

    api: CustomerApi = request.getfixturevalue("customer_api")
    config = HttpCustomersConfig(
        url=api.url, token=TOKEN, timeout=2, attempts=2, backoff_initial=0.01
    )
    with HttpCustomerDirectory(config) as http:
        yield DirectoryDriver(http, fail=lambda: api.behave(status(503)))


@pytest.fixture
def directory(directory_driver: DirectoryDriver) -> CustomerDirectory:
    """Each customer directory, holding the demo customers."""
    return directory_driver.directory


def test_a_customer_is_found_by_personal_id(directory: CustomerDirectory) -> None:
    """find_by_personal_id returns the record with its details and contracts."""
    found = directory.find_by_personal_id(ANNA.personal_id)
    assert found == ANNA


def test_the_code_is_compared_in_its_compact_form(directory: CustomerDirectory) -> None:
    """Lower case and surrounding spaces do not hide a customer."""
    assert directory.find_by_personal_id(f" {ANNA.personal_id.lower()} ") == ANNA


def test_an_unknown_person_has_no_record(directory: CustomerDirectory) -> None:
    """A valid code without a customer gives None, not an error."""
    assert directory.find_by_personal_id("071290-873K") is None


def test_every_record_comes_back_as_it_is_held(directory: CustomerDirectory) -> None:
    """Each demo customer (linkable, incomplete and unlinkable contracts) comes back equal."""
    for record in DEMO_CUSTOMERS:
        assert directory.find_by_personal_id(record.personal_id) == record


def test_a_failing_system_raises_adapter_error(directory_driver: DirectoryDriver) -> None:
    """A customer data system that cannot answer raises AdapterError for the customers port."""
    directory_driver.fail()
    with pytest.raises(AdapterError) as error:
        directory_driver.directory.find_by_personal_id(ANNA.personal_id)
    assert error.value.port == "customers"


def test_the_directory_is_read_only() -> None:
    """The port offers finding only: no method that writes."""
    methods = {name for name in dir(CustomerDirectory) if not name.startswith("_")}
    assert methods == {"find_by_personal_id"}
