"""A `Mailer` over SMTP, on the standard library (smtplib, email).

Each `send` opens a connection, optionally upgrades it with STARTTLS (or uses implicit TLS,
SMTPS), logs in when a username is configured, sends one message and closes: nothing is opened
in a constructor, and a relay that sends rarely holds no idle connection. The message has a text
and an HTML part, `Content-Language` set to the flow's language, and a `Message-ID` derived from
the outbox message id, so a resend after a crash carries the same id and receivers can drop the
duplicate. Every failure becomes `AdapterError("mailer", ...)` naming the error class and SMTP
code only (an SMTP error can quote the recipient's address).
"""

from __future__ import annotations

import base64
import email.policy
import email.utils
import hashlib
import os
import re
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage as MimeMessage
from typing import Final

import attrs

from regflow.errors import AdapterError
from regflow.model import EmailMessage

__all__ = ["SmtpConfig", "SmtpMailer", "message_id_header"]

_DOT_ATOM: Final = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$"
)
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
# The email package wraps a quoted-printable body at the policy's `max_line_length` when the
# content is set: the parts are built under RFC 2045's limit of 76 characters an encoded line.
_BODY_POLICY: Final = email.policy.SMTP.clone(max_line_length=76)
# Headers are folded when the message is serialised, under the message's policy: up to RFC 5322's
# hard limit of 998, so that a long Message-ID stays on its own line, unfolded (folded, Python's
# own parser reads it back with a leading space).
_POLICY: Final = email.policy.SMTP.clone(max_line_length=998)


def _port(_instance: object, _attribute: object, value: int) -> None:
    if not 0 < value < 65536:
        msg = f"SMTP port out of range: {value}"
        raise ValueError(msg)


@attrs.frozen
class SmtpConfig:
    """Where and how to send.

    - `starttls`: upgrade the connection with STARTTLS (port 587); `implicit_tls`: TLS from the
      first byte (SMTPS, port 465). Logging in (`username`) requires one of the two.
    - `ssl_context`: for a private CA or client certificates; the default verifies the server
      against the system's CAs.
    - `message_id_domain`: the right-hand side of Message-IDs; the sender's domain by default.
    """

    sender: str
    host: str = "localhost"
    port: int = attrs.field(default=25, validator=_port)
    starttls: bool = False
    implicit_tls: bool = False
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = attrs.field(default=None, eq=False, repr=False)
    message_id_domain: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.starttls and self.implicit_tls:
            msg = "choose STARTTLS or implicit TLS, not both"
            raise ValueError(msg)
        if self.username and not (self.starttls or self.implicit_tls):
            msg = "SMTP login needs STARTTLS or implicit TLS: the password would travel in clear"
            raise ValueError(msg)
        if "@" not in self.sender:
            msg = f"sender must be an email address, got {self.sender!r}"
            raise ValueError(msg)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> SmtpConfig:
        """Read `REGFLOW_SMTP_*` and `REGFLOW_MAIL_FROM` (required; see the README's relay
        section); `ValueError` when a value is missing or malformed."""
        cafile = environ.get("REGFLOW_SMTP_CAFILE")
        implicit = environ.get("REGFLOW_SMTP_IMPLICIT_TLS", "").lower() in _TRUE
        starttls = environ.get("REGFLOW_SMTP_STARTTLS", "").lower() in _TRUE
        default_port = 465 if implicit else 587 if starttls else 25
        sender = environ.get("REGFLOW_MAIL_FROM", "")
        if not sender:
            msg = "REGFLOW_MAIL_FROM (the sender address) is not set"
            raise ValueError(msg)
        return cls(
            sender=sender,
            host=environ.get("REGFLOW_SMTP_HOST", "localhost"),
            port=int(environ.get("REGFLOW_SMTP_PORT", default_port)),
            starttls=starttls,
            implicit_tls=implicit,
            username=environ.get("REGFLOW_SMTP_USERNAME") or None,
            password=environ.get("REGFLOW_SMTP_PASSWORD") or None,
            timeout=float(environ.get("REGFLOW_SMTP_TIMEOUT", "30")),
            ssl_context=ssl.create_default_context(cafile=cafile) if cafile else None,
        )


def message_id_header(message_id: str, domain: str) -> str:
    """The `Message-ID` for an outbox message id: `<id@domain>`, the same on every resend.

    An id that is not a valid dot-atom is replaced by a digest of it (still stable).
    """
    left = message_id
    if not _DOT_ATOM.match(left) or len(left) > 200:
        digest = hashlib.sha256(message_id.encode("utf-8")).digest()
        left = base64.b32encode(digest).decode("ascii").rstrip("=").lower()
    return f"<{left}@{domain}>"


class SmtpMailer:
    """`Mailer` over SMTP; see the module docstring."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def build(self, message: EmailMessage) -> MimeMessage:
        """The MIME message `send` hands to the server: text and HTML alternatives."""
        config = self.config
        domain = config.message_id_domain or config.sender.rsplit("@", 1)[1].rstrip(">")
        mime = MimeMessage(policy=_BODY_POLICY)
        mime["From"] = config.sender
        mime["To"] = message.to
        mime["Subject"] = message.subject
        mime["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
        mime["Message-ID"] = message_id_header(message.message_id, domain)
        mime["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
        # quoted-printable keeps the message 7-bit: no server needs 8BITMIME for it
        mime.set_content(message.text, charset="utf-8", cte="quoted-printable")
        mime.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
        mime["Content-Language"] = message.language  # after the parts: they take Content-* along
        mime.policy = _POLICY  # the bodies are encoded; the headers are folded when sent
        return mime

    def send(self, message: EmailMessage) -> None:
        """Send one message; `AdapterError` when the server cannot be reached or refuses."""
        config = self.config
        mime = self.build(message)
        context = config.ssl_context or ssl.create_default_context()
        try:
            smtp: smtplib.SMTP
            if config.implicit_tls:
                smtp = smtplib.SMTP_SSL(
                    config.host, config.port, timeout=config.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
            with smtp:
                smtp.ehlo()
                if config.starttls:
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if config.username:
                    smtp.login(config.username, config.password or "")
                smtp.send_message(mime)
        except (smtplib.SMTPException, OSError) as error:
            code = getattr(error, "smtp_code", None)
            detail = type(error).__name__ + (f" {code}" if code else "")
            raise AdapterError("mailer", detail) from error
