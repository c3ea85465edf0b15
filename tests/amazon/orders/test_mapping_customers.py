"""Mapping customers (pure): new contacts from Amazon's data (C1-C3), a matched contact (C4, C9, C10), C13."""

from __future__ import annotations

from dataclasses import replace

from orderbridge.amazon.orders.mapping import ContactMatch, OrderFacts
from orderbridge.book.address import Address
from tests.amazon.orders.test_mapping_orders import booked, channel_book, facts, mapped
from tests.amazon.orders.test_mapping_payloads import order


def test_c1_every_booked_order_has_a_contact_or_one_to_create() -> None:
    for doc in (order(), order(fba=True), order(prime=True)):
        result = mapped(doc)
        assert result.new_contact is not None or (result.order is not None and result.order.contact_id > 0)


def test_c2_new_buyer_becomes_a_contact_from_what_amazon_gives() -> None:
    result = mapped(order(name="Ann Example"), known=facts(email_key="k1"))

    contact = result.new_contact
    assert contact is not None
    assert (contact.first_name, contact.last_name) == ("Ann", "Example")
    assert contact.email == "buyer-1-uk@marketplace.amazon.example" and contact.email_key == "k1"
    assert contact.phone == "+44 113 000 0000"
    assert contact.billing.line1 == "1 High Street" and contact.billing.country == "GB"
    assert contact.marketplace_id == "A1F83G8C2ARO7P" and "amazon" in contact.tags


def test_c3_new_contact_gets_the_channel_price_list() -> None:
    contact = mapped(order()).new_contact

    assert contact is not None and contact.price_list_id == 5


def test_c4_matched_contact_books_the_order_without_a_new_contact() -> None:
    known = facts(contact=ContactMatch(42, Address(name="Ann", line1="Old Road 1")))

    result = mapped(order(), known=known)

    assert result.new_contact is None and result.order is not None and result.order.contact_id == 42


def test_c9_c10_order_billing_is_the_contact_address_and_delivery_the_new_one() -> None:
    known = facts(contact=ContactMatch(42, Address(name="Ann", line1="Old Road 1", country="GB")))
    doc = order()
    doc["recipient"]["deliveryAddress"]["addressLine1"] = "9 New Lane"

    new = booked(doc, known=known)

    assert new.billing == Address(name="Ann", line1="Old Road 1", country="GB")
    assert new.delivery.line1 == "9 New Lane" and new.delivery.postcode == "LS1 4AP"


def test_c13_one_contact_mode_assigns_every_order_to_the_chosen_contact() -> None:
    book = channel_book(customer_mode="one_contact", one_contact_id=7)
    known = OrderFacts(listings=facts().listings, tax=facts().tax, email_key="k1")

    result = mapped(order(), book, known)

    assert result.new_contact is None and result.order is not None and result.order.contact_id == 7
    assert result.order.billing.name == "Ann Example"  # the buyer's data lives on the order only
    assert result.order.delivery.line1 == "1 High Street"


def test_c6_the_contact_remembers_its_marketplace() -> None:
    uk = mapped(order(marketplace="UK")).new_contact
    de = mapped(order(marketplace="DE"), channel_book("DE")).new_contact

    assert uk is not None and de is not None
    assert uk.marketplace_id != de.marketplace_id and uk.email != de.email


def test_c1_c4_an_order_without_a_buyer_email_maps_to_the_channels_no_email_contact() -> None:
    book = replace(channel_book(), no_email_contact_id=9)

    fba = mapped(order(fba=True, name="Ann Example"), book)
    fbm = mapped(order(name="Bob Other"), book)

    # C4 has nothing to match by, so no contact per FBA order; the buyer's data stays on the order
    assert fba.new_contact is None and fba.order is not None and fba.order.contact_id == 9
    assert fba.order.billing.name == "Ann Example" and fba.order.delivery.line1 == "1 High Street"
    # an order that carries an e-mail still creates (or matches) its buyer's contact (C2, C4)
    assert fbm.new_contact is not None and fbm.new_contact.email is not None
