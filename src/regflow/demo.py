"""Demo data: customers who reach every outcome of the flow, and the people a bank can identify.

Plain values, no adapters: `regflow.bootstrap` loads them into whichever stores it builds when
`Config.demo` is on, and `regflow.adapters.memory` re-exports them under their old names.

| person | personal identity code | outcome |
|---|---|---|
| Anna-Liisa Virtanen, Oskari Korhonen | 131052-308T, 010594Y239M | registration completes |
| Matti Meikäläinen | 240467-541E | completes; district heating not linkable |
| Mikko Nieminen | 280699-255N | contract data incomplete |
| Erik Lindqvist | 071290-873K | no customer record |
| Johan Eriksson | 150380-123P | already registered (`johan_account`) |
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from regflow.model import Account, ContactDetails, Contract, ContractKind, CustomerRecord


def _details(  # noqa: PLR0917  # one row of demo data, read positionally
    given: str,
    family: str,
    email: str,
    phone: str,
    street: str,
    postal: str,
    office: str,
    lang: str,
) -> ContactDetails:
    return ContactDetails(
        given_names=given,
        family_name=family,
        email=email,
        phone=phone,
        street_address=street,
        postal_code=postal,
        post_office=office,
        language=lang,
    )


_E, _DH = ContractKind.electricity, ContractKind.district_heating

DEMO_CUSTOMERS: Final[tuple[CustomerRecord, ...]] = (
    CustomerRecord(
        customer_number="100001",
        personal_id="131052-308T",
        details=_details(
            "Anna-Liisa",
            "Virtanen",
            "anna-liisa.virtanen@example.fi",
            "+358401234567",
            "Mannerheimintie 12 A 5",
            "00100",
            "Helsinki",
            "fi",
        ),
        contracts=(
            Contract(_E, "E-100001-1", "643000000000100001"),
            Contract(_DH, "K-100001-1", "DH-5001"),
        ),
    ),
    CustomerRecord(
        customer_number="100002",
        personal_id="010594Y239M",
        details=_details(
            "Oskari",
            "Korhonen",
            "oskari.korhonen@example.fi",
            "+358501234568",
            "H\u00e4meentie 3 B 12",
            "00530",
            "Helsinki",
            "fi",
        ),
        contracts=(Contract(_E, "E-100002-1", "643000000000100002"),),
    ),
    CustomerRecord(
        customer_number="100003",
        personal_id="240467-541E",
        details=_details(
            "Matti",
            "Meik\u00e4l\u00e4inen",
            "matti.meikalainen@example.fi",
            "+358441234569",
            "Aleksanterinkatu 7",
            "00170",
            "Helsinki",
            "fi",
        ),
        contracts=(
            Contract(_E, "E-100003-1", "643000000000100003"),
            Contract(_DH, "K-100003-1", None),
        ),
    ),
    CustomerRecord(
        customer_number="100004",
        personal_id="280699-255N",
        details=_details(
            "Mikko",
            "Nieminen",
            "mikko.nieminen@example.fi",
            "+358451234570",
            "Fredrikinkatu 20",
            "00120",
            "Helsinki",
            "fi",
        ),
        contracts=(Contract(_E, None, "643000000000100004"),),
    ),
    CustomerRecord(
        customer_number="100006",
        personal_id="150380-123P",
        details=_details(
            "Johan",
            "Eriksson",
            "johan.eriksson@example.fi",
            "+358401234572",
            "Runebergsgatan 4",
            "00100",
            "Helsingfors",
            "sv",
        ),
        contracts=(Contract(_E, "E-100006-1", "643000000000100006"),),
    ),
)

# Everyone the simulated bank can identify, including Erik, who has no customer record.
DEMO_PEOPLE: Final[dict[str, tuple[str, str]]] = {
    **{r.personal_id: (r.details.given_names, r.details.family_name) for r in DEMO_CUSTOMERS},
    "071290-873K": ("Erik", "Lindqvist"),
}


JOHAN_ACCOUNT_ID: Final = "demo-johan"


def johan_account(*, password_hash: str, now: dt.datetime) -> Account:
    """Johan Eriksson's existing account (johan.eriksson@example.fi), made 400 days before `now`.

    `password_hash` is the caller's hash of a password nobody knows: the demo never logs him in.
    """
    johan = DEMO_CUSTOMERS[-1]
    return Account(
        account_id=JOHAN_ACCOUNT_ID,
        email=johan.details.email,
        personal_id=johan.personal_id,
        customer_number=johan.customer_number,
        password_hash=password_hash,
        profile=johan.details,
        linked_contracts=("E-100006-1",),
        created_at=now - dt.timedelta(days=400),
    )
