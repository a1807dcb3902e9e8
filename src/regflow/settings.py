"""What an operator can configure, with the Helen guide's values as defaults."""

from __future__ import annotations

import datetime as dt

import attrs
import phonenumbers

from regflow.model import (
    CONTACT_FIELDS,
    CUSTOMER_SERVICE,
    DISTRICT_HEATING_ADVISORY,
    REQUIRED_BY_DEFAULT,
    Contact,
)


def _check_required(_instance: object, _attribute: object, value: frozenset[str]) -> None:
    unknown = value - set(CONTACT_FIELDS)
    if unknown:
        msg = f"required_fields names unknown fields: {sorted(unknown)}"
        raise ValueError(msg)
    if "marketing_consent" in value:
        msg = "marketing_consent is a choice, never required"
        raise ValueError(msg)
    if "email" not in value:
        msg = "email is always required: it becomes the username"
        raise ValueError(msg)


def _positive_duration(
    _instance: object, attribute: attrs.Attribute[dt.timedelta], value: dt.timedelta
) -> None:
    if value <= dt.timedelta(0):
        msg = f"{attribute.name} must be positive"
        raise ValueError(msg)


def _at_least_one(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        msg = f"{attribute.name} must be at least 1"
        raise ValueError(msg)


def _known_region(_instance: object, _attribute: object, value: str) -> None:
    if value not in phonenumbers.SUPPORTED_REGIONS:
        msg = f"phone_region {value!r} is not a region phonenumbers knows"
        raise ValueError(msg)


@attrs.frozen
class Settings:
    """Configuration of the registration flow.

    - `flow_ttl`: how long a flow lives without a successful event (renewed on each one).
    - `max_bank_failures`: the failed identification that ends the flow in customer service.
    - `required_fields`: the contact fields marked `*`; email is always among them.
    - `phone_region`: the region for phone numbers written without a country code.
    - `allow_temporary_personal_ids`: accept codes with individual number 900-999.
    - `customer_service`, `district_heating_advisory`: the contacts shown to the user.
    """

    flow_ttl: dt.timedelta = attrs.field(
        default=dt.timedelta(minutes=30), validator=_positive_duration
    )
    max_bank_failures: int = attrs.field(default=3, validator=_at_least_one)
    required_fields: frozenset[str] = attrs.field(
        default=REQUIRED_BY_DEFAULT, converter=frozenset, validator=_check_required
    )
    phone_region: str = attrs.field(default="FI", validator=_known_region)
    allow_temporary_personal_ids: bool = False
    customer_service: Contact = CUSTOMER_SERVICE
    district_heating_advisory: Contact = DISTRICT_HEATING_ADVISORY
