"""Sending queued notices over SMTP (smtplib: STARTTLS, implicit TLS or plain; optional login)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

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
    )


Connect = Callable[[MailSettings], smtplib.SMTP]


def connect(mail: MailSettings) -> smtplib.SMTP:
    context = ssl.create_default_context()
    if mail.tls == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(mail.host, mail.port, timeout=mail.timeout, context=context)
    else:
        smtp = smtplib.SMTP(mail.host, mail.port, timeout=mail.timeout)
        if mail.tls == "starttls":
            smtp.starttls(context=context)
    if mail.username:
        smtp.login(mail.username, mail.password)
    return smtp


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
        report.errors.append(f"SMTP {mail.host}:{mail.port}: {error.__class__.__name__}: {error}")
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
                    notice.last_error = f"{error.__class__.__name__}: {error}"[:500]
                    report.failed += 1
                    report.errors.append(f"notice {notice.id}: {notice.last_error}")
                    continue
                notice.attempts += 1
                notice.sent_at = clock()
                notice.recipients = ", ".join(recipients)
                notice.last_error = None
                report.sent += 1
    return report


__all__ = ["AddressError", "MailSettings", "SendReport", "mail_settings", "send_pending"]
