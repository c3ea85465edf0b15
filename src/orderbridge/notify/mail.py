"""Sending queued notices over SMTP (smtplib: STARTTLS, implicit TLS or plain; optional login).

The server's certificate is verified against the system's CAs, or only against `smtp_ca_file` when that
is set; a failure to connect, verify or log in is reported naming the setting to fix, and every notice
stays pending for the next run.
"""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from orderbridge.clock import Clock
from orderbridge.config import Settings
from orderbridge.notify.addresses import AddressError, checked_address
from orderbridge.notify.notices import Notice, pending_notices


@dataclass(frozen=True)
class MailSettings:
    host: str
    port: int
    tls: str
    sender: str
    recipients: tuple[str, ...]
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0
    ca_file: Path | None = None


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def mail_settings(settings: Settings) -> MailSettings | None:
    """The SMTP settings in force, or None when no smtp_host is set (notices then wait in the book)."""
    if not settings.smtp_host:
        return None
    return MailSettings(
        host=settings.smtp_host,
        port=settings.smtp_port,
        tls=settings.smtp_tls,
        sender=settings.mail_from,
        recipients=tuple(settings.mail_recipients),
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value(),
        timeout=settings.smtp_timeout,
        ca_file=settings.smtp_ca_file,
    )


Connect = Callable[[MailSettings], smtplib.SMTP]


def connect(mail: MailSettings) -> smtplib.SMTP:
    """A connected (and logged-in) SMTP session; OSError or SMTPException as smtplib raises them."""
    context = ssl.create_default_context(cafile=str(mail.ca_file) if mail.ca_file else None)
    if mail.tls == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(mail.host, mail.port, timeout=mail.timeout, context=context)
    else:
        smtp = smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout)
        try:
            if mail.tls == "starttls":
                smtp.starttls(context=context)
        except BaseException:
            smtp.close()
            raise
    if mail.username:
        try:
            smtp.login(mail.username, mail.password)
        except BaseException:
            smtp.close()
            raise
    return smtp


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def explain(mail: MailSettings, error: BaseException) -> str:
    """What went wrong reaching the server, naming the setting that decides it (never the password)."""
    where = f"SMTP {mail.host}:{mail.port}"
    detail = f"{error.__class__.__name__}: {error}"
    if isinstance(error, ssl.SSLCertVerificationError):
        trust = (
            f"smtp_ca_file {mail.ca_file}" if mail.ca_file else "the system's CAs (smtp_ca_file is not set)"
        )
        return (
            f"{where}: the server's certificate does not verify against {trust}; set smtp_ca_file to "
            f"the PEM file of the CA that signed it ({error.verify_message})"
        )
    if isinstance(error, ssl.SSLError):
        return f"{where}: TLS failed (smtp_tls {mail.tls}: is it the right mode for this port?): {detail}"
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return (
            f"{where} refused the login of smtp_username {mail.username!r}: check smtp_username and "
            f"smtp_password ({error.smtp_code} {_text(error.smtp_error)})"
        )
    if isinstance(error, smtplib.SMTPNotSupportedError):
        if mail.tls == "starttls" and not mail.username:
            return (
                f"{where} does not offer STARTTLS: set smtp_tls (none or ssl) to what it supports ({detail})"
            )
        return f"{where}: {detail} (check smtp_tls and smtp_username)"
    if isinstance(error, ConnectionRefusedError):
        return f"{where}: nothing accepts connections there (check smtp_host and smtp_port): {detail}"
    if isinstance(error, smtplib.SMTPResponseException) and error.smtp_code == 530:
        reply = _text(error.smtp_error)
        return f"{where} wants TLS or a login first (check smtp_tls and smtp_username): {reply}"
    if isinstance(error, smtplib.SMTPSenderRefused):
        reply = f"{error.smtp_code} {_text(error.smtp_error)}"
        return f"{where} refused the sender mail_from {mail.sender!r}: {reply}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        refused = ", ".join(
            f"{address} ({code} {_text(reply)})"
            for address, (code, reply) in sorted(error.recipients.items())
        )
        return f"{where} refused the recipients in mail_to: {refused}"
    if isinstance(error, smtplib.SMTPResponseException):
        return (
            f"{where} refused (smtp_host / smtp_port / smtp_tls): {error.smtp_code} {_text(error.smtp_error)}"
        )
    return f"{where} (smtp_host / smtp_port / smtp_tls): {detail}"


def message(notice: Notice, mail: MailSettings, recipients: list[str]) -> EmailMessage:
    email = EmailMessage()
    email["From"] = mail.sender
    email["To"] = ", ".join(recipients)
    email["Subject"] = notice.subject
    email["Date"] = format_datetime(notice.created_at)
    email["Message-ID"] = make_msgid(domain=mail.sender.rsplit("@", 1)[-1])
    email["X-Orderbridge-Event"] = notice.event_key
    email.set_content(notice.content)
    return email


def safe_recipients(mail: MailSettings) -> list[str]:
    """The configured recipients, each checked again at sending time (C12: never an Amazon address)."""
    return [checked_address(address, what="mail_to") for address in mail.recipients]


def send_pending(
    sessions: sessionmaker[Session], mail: MailSettings, *, clock: Clock, connect: Connect = connect
) -> SendReport:
    """Send every pending notice, each marked sent in its own transaction right after the server took it."""
    report = SendReport()
    recipients = safe_recipients(mail)
    with sessions() as session:
        pending = [notice.id for notice in pending_notices(session, limit=10_000)]
    if not pending:
        return report
    try:
        smtp = connect(mail)
    except (OSError, smtplib.SMTPException) as error:
        report.failed = len(pending)
        report.errors.append(explain(mail, error))
        return report
    with smtp:
        for notice_id in pending:
            with sessions.begin() as session:
                notice = session.get(Notice, notice_id)
                if notice is None or notice.sent_at is not None:
                    continue
                try:
                    smtp.send_message(message(notice, mail, recipients))
                except (OSError, smtplib.SMTPException) as error:
                    notice.attempts += 1
                    notice.last_error = explain(mail, error)[:500]
                    report.failed += 1
                    report.errors.append(f"notice {notice.id}: {notice.last_error}")
                    continue
                notice.attempts += 1
                notice.sent_at = clock()
                notice.recipients = ", ".join(recipients)
                notice.last_error = None
                report.sent += 1
    return report


__all__ = ["AddressError", "MailSettings", "SendReport", "explain", "mail_settings", "send_pending"]
