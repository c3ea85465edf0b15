"""The channel settings page: every setting that names a book record is a drop-down of those records
(never a free-text id), with the current value selected, and a posted record that does not exist is
refused beside its setting with nothing saved."""

from __future__ import annotations

import html as html_lib
from html.parser import HTMLParser
from typing import Any

from orderbridge.amazon.channel import change_settings, settings_for
from orderbridge.book.catalog import add_price_list
from orderbridge.book.channels import Channel
from orderbridge.book.contacts import NewContact, create_contact
from orderbridge.book.custom_fields import FieldKind, RecordKind, define_field
from orderbridge.book.orders.statuses import add_status
from orderbridge.book.tax import add_nominal_code
from tests.book.builders import NOW, make_book
from tests.web.conftest import WebApp

GENERIC_NAME = "Pending Orders Desk"  # a contact's name is sealed buyer-data: never on this page
RECORD_SETTINGS = (
    "status_pending", "status_new", "status_new_prime", "status_new_fba", "status_shipped",
    "status_cancelled", "one_contact_id", "pending_contact_id", "no_email_contact_id", "price_list",
    "gift_message_field", "business_field", "po_number_field", "buyer_vat_field", "prime_flag_field",
    "fbm_warehouse", "fba_warehouse", "inbound_source_warehouse", "sales_nominal_code",
    "shipping_nominal_code", "fee_nominal_code", "withheld_tax_nominal_code", "reimbursement_nominal_code",
    "other_settlement_nominal_code",
)  # fmt: skip


class _Form(HTMLParser):
    """The form's selects (id -> [(value, label, selected)]) and its text inputs (ids)."""

    def __init__(self) -> None:
        super().__init__()
        self.selects: dict[str, list[tuple[str, str, bool]]] = {}
        self.inputs: list[str] = []
        self._select: str | None = None
        self._option: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "select":
            self._select = str(found["id"]).removeprefix("f-")
            self.selects[self._select] = []
        elif tag == "option" and self._select is not None:
            self._option = {"value": found.get("value") or "", "selected": "selected" in found, "label": ""}
        elif tag == "input" and str(found.get("id")).startswith("f-") and found.get("type") != "checkbox":
            self.inputs.append(str(found.get("id")))  # a setting typed as text

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._option["label"] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "option" and self._option is not None and self._select is not None:
            option = self._option
            self.selects[self._select].append((option["value"], option["label"].strip(), option["selected"]))
            self._option = None
        elif tag == "select":
            self._select = None


def _form(html: str) -> _Form:
    parsed = _Form()
    parsed.feed(html)
    return parsed


def _values(form: _Form, name: str) -> list[str]:
    return [value for value, _label, _selected in form.selects[name] if value]


def _selected(form: _Form, name: str) -> str:
    return next((value for value, _label, selected in form.selects[name] if selected), "")


def _book(web: WebApp) -> dict[str, int]:
    """Statuses, warehouses of both kinds, a price list, sales-order fields of each kind, nominal codes,
    the seller's own contact and an Amazon buyer's contact."""
    with web.sessions.begin() as session:
        book = make_book(session)  # amazon-uk, MAIN (own), FBA-EU (fba), nominal 4000, contact Ann
        add_status(session, "Void", is_cancelled=True)
        add_price_list(session, "RETAIL", "Retail", "GBP")
        add_nominal_code(session, "4040", "Shipping")
        for code, kind in (
            ("gift", FieldKind.TEXT_AREA),
            ("po", FieldKind.TEXT),
            ("b2b", FieldKind.YES_NO),
        ):
            define_field(session, RecordKind.SALES_ORDER, code, code.upper(), kind)
        define_field(session, RecordKind.CONTACT, "vip", "VIP", FieldKind.YES_NO)
        own = create_contact(
            session, NewContact(company_name=GENERIC_NAME, tags=frozenset({"amazon-pending"})), now=NOW
        )
        buyer = create_contact(
            session, NewContact(first_name="Bea", marketplace_id="A1F83G8C2ARO7P"), now=NOW
        )
        session.flush()
        change_settings(
            session,
            book.channel,
            {"fbm_warehouse": "MAIN", "price_list": "RETAIL", "gift_message_field": "gift"},
        )
        return {"own": own.id, "buyer": buyer.id, "ann": book.contact.id}


def test_every_setting_that_names_a_book_record_is_a_drop_down_of_those_records(web: WebApp) -> None:
    ids = _book(web)
    page = web.client("admin").get("/channels/amazon-uk")
    assert page.status_code == 200
    form = _form(page.text)

    # never a free-text id: each record setting is a select, and the form has no text input at all
    assert set(RECORD_SETTINGS) <= set(form.selects) and form.inputs == []
    # each offers the records of the right kind only
    assert _values(form, "status_new") == ["Pending", "New order", "New Prime order", "New FBA order",
                                           "Ready to ship", "Shipped", "Cancelled", "Void"]  # fmt: skip
    assert _values(form, "status_cancelled") == ["Cancelled", "Void"]
    assert "Cancelled" not in _values(form, "status_shipped")
    assert _values(form, "fbm_warehouse") == _values(form, "inbound_source_warehouse") == ["MAIN"]
    assert _values(form, "fba_warehouse") == ["FBA-EU"]
    assert _values(form, "price_list") == ["RETAIL"]
    assert _values(form, "gift_message_field") == ["gift"]
    assert _values(form, "po_number_field") == _values(form, "buyer_vat_field") == ["po"]
    assert _values(form, "business_field") == _values(form, "prime_flag_field") == ["b2b"]  # no contact field
    assert _values(form, "sales_nominal_code") == ["4000", "4040"]
    # contacts: the seller's own, by id and tag; never an Amazon buyer, and never a name (sealed buyer data)
    own = str(ids["own"])
    assert own in _values(form, "pending_contact_id") and str(ids["buyer"]) not in _values(
        form, "one_contact_id"
    )
    assert (own, f"#{own} · amazon-pending", False) in form.selects["one_contact_id"]
    assert GENERIC_NAME not in page.text and "Bea" not in page.text
    # the current values are selected; a setting with a default offers no empty choice
    assert (_selected(form, "fbm_warehouse"), _selected(form, "price_list")) == ("MAIN", "RETAIL")
    assert _selected(form, "gift_message_field") == "gift" and _selected(form, "fba_warehouse") == ""
    assert _selected(form, "status_new") == "New order" and "" not in [
        v for v, *_ in form.selects["status_new"]
    ]
    assert "<datalist" not in page.text


def test_a_posted_record_that_does_not_exist_is_refused_beside_its_setting_and_nothing_is_saved(
    web: WebApp,
) -> None:
    ids = _book(web)
    admin = web.client("admin")
    saved = admin.submit(
        "/channels/amazon-uk",
        {"fbm_warehouse": "MAIN", "customer_mode": "one_contact", "one_contact_id": str(ids["own"])},
    )
    assert saved.status_code == 303
    before = _settings(web)

    for posted, setting, says in (
        ({"fbm_warehouse": "NOWHERE"}, "fbm_warehouse", "warehouse 'NOWHERE' does not exist"),
        ({"fbm_warehouse": "FBA-EU"}, "fbm_warehouse", "warehouse 'FBA-EU' is fba, not own"),
        ({"one_contact_id": "999"}, "one_contact_id", "contact 999 does not exist"),
        ({"one_contact_id": "abc"}, "one_contact_id", "valid integer"),
        ({"status_new": "Lost"}, "status_new", "order status 'Lost' does not exist"),
        ({"price_list": "TRADE"}, "price_list", "price list 'TRADE' does not exist"),
        ({"po_number_field": "gift"}, "po_number_field", "custom field 'gift' is text_area"),
        ({"sales_nominal_code": "9999"}, "sales_nominal_code", "nominal code '9999' does not exist"),
    ):
        form = {"fbm_warehouse": "MAIN", "customer_mode": "one_contact", "one_contact_id": str(ids["own"])}
        refused = admin.submit("/channels/amazon-uk", form | posted)
        assert refused.status_code == 422, posted
        error = _field_error(refused.text, setting)
        assert says in error, (posted, error)
        # the posted value stays on the form, selected, so the seller sees what was refused
        value = next(iter(posted.values()))
        assert _selected(_form(refused.text), setting) == value
    assert _settings(web) == before


def _field_error(html: str, setting: str) -> str:
    start = html.index(f'id="setting-{setting}"')
    end = html.index("</div>", start)
    block = html[start:end]
    assert 'class="field-error"' in block, block
    return html_lib.unescape(block)


def _settings(web: WebApp) -> dict[str, Any]:
    with web.sessions.begin() as session:
        channel = session.query(Channel).filter_by(code="amazon-uk").one()
        return settings_for(session, channel).model_dump(mode="json")


def test_saving_the_form_keeps_the_settings_it_does_not_show(web: WebApp) -> None:
    _book(web)
    with web.sessions.begin() as session:
        channel = session.query(Channel).filter_by(code="amazon-uk").one()
        change_settings(session, channel, {"fee_nominal_codes": "Commission=4040"})
    saved = web.client("operator").submit("/channels/amazon-uk", {"fbm_warehouse": "MAIN"})
    assert saved.status_code == 303
    assert _settings(web)["fee_nominal_codes"] == {"Commission": "4040"}
