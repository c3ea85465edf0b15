"""Notices over real SMTP: once per event, plain text, never to an Amazon-generated address (F5, C12)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orderbridge.config import SettingsError, load_settings
from orderbridge.db import make_engine, session_factory
from orderbridge.notify.addresses import AddressError, checked_address, is_amazon_generated
from orderbridge.notify.mail import MailSettings, mail_settings, send_pending
from orderbridge.notify.notices import notices, queue_notice
from tests.notify.smtp_server import smtp_server

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_f5_a_notice_is_queued_once_per_event_and_sent_once(fresh_store_url: str) -> None:
    engine = make_engine(fresh_store_url)
    sessions = session_factory(engine)
    try:
        # given: the same event queued twice, in two transactions
        for _ in range(2):
            with sessions.begin() as session:
                queue_notice(
                    session, event_key="inbound:1:FBA1:over:SKU-1", kind="inbound_over_receipt",
                    subject="Over-receipt: FBA1", body="SKU-1  shipped 10  received 12\n", now=NOW,
                )  # fmt: skip
        with smtp_server() as (inbox, mail):
            # when: the sender runs twice
            first = send_pending(sessions, mail, clock=lambda: NOW)
            second = send_pending(sessions, mail, clock=lambda: NOW)
        # then: one plain-text e-mail reached the server, and the notice is marked sent
        assert (first.sent, second.sent) == (1, 0)
        (message,) = inbox.messages
        assert message["Subject"] == "Over-receipt: FBA1"
        assert message.get_content_type() == "text/plain"
        assert "received 12" in message.get_content()
        assert inbox.recipients == [["seller@shop.example"]]
        with sessions() as session:
            (stored,) = notices(session)
            assert stored.sent_at is not None and stored.attempts == 1
    finally:
        engine.dispose()


def test_f5_a_server_that_is_down_leaves_notices_pending(fresh_store_url: str) -> None:
    engine = make_engine(fresh_store_url)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        queue_notice(session, event_key="e1", kind="k", subject="s", body="b", now=NOW)
    with smtp_server() as (_, mail):
        pass  # the server is stopped again: nothing listens on its port
    report = send_pending(sessions, mail, clock=lambda: NOW)
    assert report.sent == 0 and report.failed == 1 and "SMTP 127.0.0.1" in report.errors[0]
    with smtp_server() as (inbox, mail):
        assert send_pending(sessions, mail, clock=lambda: NOW).sent == 1
    assert len(inbox.messages) == 1
    engine.dispose()


@pytest.mark.parametrize(
    "address",
    ["qz7kd0@marketplace.amazon.co.uk", "BUYER@Marketplace.Amazon.com", "x@eu.marketplace.amazon.de"],
)
def test_c12_amazon_generated_addresses_are_refused(address: str) -> None:
    assert is_amazon_generated(address)
    with pytest.raises(AddressError, match="Amazon-generated address") as caught:
        checked_address(address, what="mail_to")
    assert address not in str(caught.value)  # a buyer's relay address never reaches an error text


def test_c12_settings_refuse_an_amazon_recipient_and_the_sender_never_mails_one(
    fresh_store_url: str,
) -> None:
    with pytest.raises(SettingsError, match="Amazon-generated address"):
        load_settings(smtp_host="127.0.0.1", mail_from="me@shop.example", mail_to="b@marketplace.amazon.com")
    engine = make_engine(fresh_store_url)
    sessions = session_factory(engine)
    with sessions.begin() as session:
        queue_notice(session, event_key="e1", kind="k", subject="s", body="b", now=NOW)
    with smtp_server() as (inbox, mail):
        sneaked = MailSettings(**{**mail.__dict__, "recipients": ("b@marketplace.amazon.com",)})
        with pytest.raises(AddressError):
            send_pending(sessions, sneaked, clock=lambda: NOW)
    assert inbox.messages == []
    engine.dispose()


@pytest.mark.parametrize(
    ("changes", "wrong"),
    [
        ({"mail_to": "me@shop.example"}, "mail_from and mail_to"),
        ({"mail_from": "me@shop.example", "mail_to": "not-an-address"}, "not an e-mail address"),
        ({"mail_from": "a@shop.example", "mail_to": "b@shop.example", "smtp_password": "x"}, "without"),
        (
            {"mail_from": "a@shop.example", "mail_to": "b@shop.example", "smtp_username": "u"}
            | {"smtp_tls": "none"},
            "in clear",
        ),
        ({"mail_from": "a@shop.example", "mail_to": "b@shop.example", "smtp_tls": "tls13"}, "SMTP_TLS"),
    ],
)
def test_mail_settings_name_what_is_wrong(changes: dict[str, str], wrong: str) -> None:
    with pytest.raises(SettingsError, match=wrong):
        load_settings(smtp_host="smtp.shop.example", **changes)


def test_mail_settings_from_the_installation_settings() -> None:
    settings = load_settings(
        smtp_host="smtp.shop.example", smtp_port=465, smtp_tls="ssl", mail_from="ob@shop.example",
        mail_to="a@shop.example, b@shop.example", smtp_username="ob", smtp_password="secret",
    )  # fmt: skip
    mail = mail_settings(settings)
    assert mail is not None
    assert (mail.port, mail.tls, mail.recipients) == (465, "ssl", ("a@shop.example", "b@shop.example"))
    assert "secret" not in repr(mail)
    assert mail_settings(load_settings()) is None
