"""E-mail over TLS to a real SMTP server (aiosmtpd) with generated certificates: STARTTLS with a login,
implicit TLS, and what happens when the login, the server or the certificate says no (F5).

Whatever goes wrong, the error names the setting to fix and the notice stays pending: the next run
sends it, so nothing is lost."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.config import SettingsError, load_settings
from orderbridge.db import make_engine, session_factory
from orderbridge.notify.mail import mail_settings, send_pending
from orderbridge.notify.notices import notices, queue_notice
from tests.notify.smtp_server import Inbox, free_port, smtp_server
from tests.notify.tls_server import PASSWORD, Certificates, make_certificates, tls_smtp_server

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
# aiosmtpd warns about AUTH over implicit TLS, which it does not count as TLS (see tls_server.py)
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def sessions(fresh_store_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(fresh_store_url)
    made = session_factory(engine)
    with made.begin() as session:
        queue_notice(
            session, event_key="inbound:1:FBA1:over:SKU-1", kind="inbound_over_receipt",
            subject="Over-receipt: FBA1", body="SKU-1  shipped 10  received 12\n", now=NOW,
        )  # fmt: skip
    yield made
    engine.dispose()


def _pending(sessions: sessionmaker[Session]) -> list[str | None]:
    with sessions() as session:
        return [notice.last_error for notice in notices(session) if notice.sent_at is None]


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_f5_mail_goes_over_starttls_and_implicit_tls_with_a_login(
    sessions: sessionmaker[Session], certificates: Certificates, mode: str
) -> None:
    with tls_smtp_server(certificates, mode=mode) as server:
        report = send_pending(sessions, server.mail, clock=lambda: NOW)
    assert (report.sent, report.failed, report.errors) == (1, 0, [])
    assert server.logins.attempts and server.logins.attempts[-1][1] is True
    (message,) = server.inbox.messages
    assert message["Subject"] == "Over-receipt: FBA1" and "received 12" in message.get_content()
    assert _pending(sessions) == []


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_f5_a_wrong_password_names_the_settings_and_the_notice_waits(
    sessions: sessionmaker[Session], certificates: Certificates, mode: str
) -> None:
    with tls_smtp_server(certificates, mode=mode) as server:
        wrong = dataclasses.replace(server.mail, password="not the password")
        report = send_pending(sessions, wrong, clock=lambda: NOW)
        # then: a clear error naming the settings, never the password; nothing sent, nothing lost
        assert (report.sent, report.failed) == (0, 1)
        (error,) = report.errors
        assert "refused the login of smtp_username 'shop-mailer'" in error and "smtp_password" in error
        assert "not the password" not in error and PASSWORD not in error
        assert server.inbox.messages == [] and _pending(sessions) == [None]
        # when: the password is put right, the next run sends the notice that waited
        assert send_pending(sessions, server.mail, clock=lambda: NOW).sent == 1
    assert len(server.inbox.messages) == 1 and _pending(sessions) == []


def test_f5_a_certificate_that_does_not_verify_is_refused_unless_its_ca_is_trusted(
    sessions: sessionmaker[Session], certificates: Certificates
) -> None:
    with tls_smtp_server(certificates, mode="starttls") as server:
        for ca_file in (None, certificates.other_ca_file):
            untrusted = dataclasses.replace(server.mail, ca_file=ca_file)
            report = send_pending(sessions, untrusted, clock=lambda: NOW)
            (error,) = report.errors
            assert report.sent == 0 and "certificate does not verify" in error and "smtp_ca_file" in error
        # the login was never attempted over a connection that did not verify: the password stayed home
        assert server.logins.attempts == [] and server.inbox.messages == [] and _pending(sessions) == [None]
        assert send_pending(sessions, server.mail, clock=lambda: NOW).sent == 1
    # implicit TLS refuses an unverified server too
    with sessions.begin() as session:
        queue_notice(session, event_key="e2", kind="k", subject="s", body="b", now=NOW)
    with tls_smtp_server(certificates, mode="ssl") as server:
        report = send_pending(sessions, dataclasses.replace(server.mail, ca_file=None), clock=lambda: NOW)
        assert report.failed == 1 and "certificate does not verify" in report.errors[0]
        assert server.logins.attempts == [] and _pending(sessions) == [None]


class _Refusing(Inbox):
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return "550 5.1.1 mailbox unavailable"


def test_f5_a_server_that_refuses_names_the_setting_and_the_notice_stays_for_the_retry(
    sessions: sessionmaker[Session],
) -> None:
    port = free_port()
    controller = Controller(_Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mail = load_settings(
            smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none", mail_from="orderbridge@shop.example",
            mail_to="seller@shop.example",
        )  # fmt: skip
        settings = mail_settings(mail)
        assert settings is not None
        report = send_pending(sessions, settings, clock=lambda: NOW)
    finally:
        controller.stop()
    assert (report.sent, report.failed) == (0, 1)
    assert "refused the recipients in mail_to" in report.errors[0]
    (last_error,) = _pending(sessions)
    assert last_error is not None and "mail_to" in last_error and "550" in last_error
    # when: the server takes mail again, the notice that waited goes out once
    with smtp_server() as (inbox, working):
        assert send_pending(sessions, working, clock=lambda: NOW).sent == 1
    assert len(inbox.messages) == 1 and _pending(sessions) == []


def test_f5_a_server_that_wants_tls_when_the_settings_say_none_names_smtp_tls(
    sessions: sessionmaker[Session], certificates: Certificates
) -> None:
    with tls_smtp_server(certificates, mode="starttls") as server:
        plain = dataclasses.replace(server.mail, tls="none", username="", password="")
        report = send_pending(sessions, plain, clock=lambda: NOW)
    assert report.sent == 0 and "smtp_tls" in report.errors[0]
    assert server.inbox.messages == [] and len(_pending(sessions)) == 1


def test_smtp_ca_file_is_a_setting_checked_at_start(certificates: Certificates, tmp_path: Path) -> None:
    settings = load_settings(
        smtp_host="smtp.shop.example", smtp_tls="ssl", smtp_port=465, smtp_ca_file=str(certificates.ca_file),
        mail_from="orderbridge@shop.example", mail_to="seller@shop.example",
    )  # fmt: skip
    mail = mail_settings(settings)
    assert mail is not None and mail.ca_file == certificates.ca_file
    with pytest.raises(SettingsError, match=r"smtp_ca_file .* is not a readable file"):
        load_settings(
            smtp_host="smtp.shop.example", smtp_ca_file=str(tmp_path / "missing.pem"),
            mail_from="orderbridge@shop.example", mail_to="seller@shop.example",
        )  # fmt: skip
