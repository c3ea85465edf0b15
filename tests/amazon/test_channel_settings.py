"""Channel settings: defaults, refusals naming the setting (O12, O18, O20, C13), YAML export/import, CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session

from orderbridge.amazon.channel import (
    ChannelSettings,
    ChannelSettingsError,
    CustomerMode,
    TaxBehaviour,
    change_settings,
    export_settings,
    import_settings,
    parse_settings,
    resolve,
    save_settings,
    settings_for,
)
from orderbridge.book.channels import ChannelKind, save_channel
from orderbridge.book.custom_fields import FieldKind, RecordKind, define_field
from orderbridge.book.tax import add_nominal_code, company
from tests.book.builders import Book, make_book
from tests.cli import conftest as cli
from tests.cli.conftest import Run, json_of
from tests.conftest import STORES

run, store_url = cli.run, cli.store_url  # the CLI fixtures, for the command tests here


@pytest.fixture
def book(session: Session) -> Book:
    made = make_book(session)
    define_field(session, RecordKind.SALES_ORDER, "gift", "Gift message", FieldKind.TEXT_AREA)
    define_field(session, RecordKind.SALES_ORDER, "note", "Short note", FieldKind.TEXT)
    define_field(session, RecordKind.SALES_ORDER, "b2b", "Business", FieldKind.YES_NO)
    define_field(session, RecordKind.CONTACT, "gift_c", "Contact gift", FieldKind.TEXT_AREA)
    return made


def test_o2_pending_download_is_off_by_default(book: Book) -> None:
    settings = settings_for(book.session, book.channel)

    assert settings.download_pending is False
    assert (settings.status_pending, settings.status_new) == ("Pending", "New order")
    assert settings.customer_mode == CustomerMode.CREATE_CONTACTS


def test_o12_gift_message_field_must_be_a_sales_order_text_area(book: Book) -> None:
    save_settings(book.session, book.channel, ChannelSettings(gift_message_field="gift"))

    with pytest.raises(
        ChannelSettingsError, match=r"gift_message_field: custom field 'note' is text; .*area"
    ):
        save_settings(book.session, book.channel, ChannelSettings(gift_message_field="note"))
    with pytest.raises(ChannelSettingsError, match="sales-order custom field 'gift_c' does not exist"):
        save_settings(book.session, book.channel, ChannelSettings(gift_message_field="gift_c"))
    assert settings_for(book.session, book.channel).gift_message_field == "gift"


def test_o18_business_flag_needs_yes_no_and_po_number_a_text_field(book: Book) -> None:
    save_settings(book.session, book.channel, ChannelSettings(business_field="b2b", po_number_field="note"))

    with pytest.raises(ChannelSettingsError, match=r"business_field: .*yes/no"):
        save_settings(book.session, book.channel, ChannelSettings(business_field="note"))
    with pytest.raises(ChannelSettingsError, match=r"buyer_vat_field: .*text field"):
        save_settings(book.session, book.channel, ChannelSettings(buyer_vat_field="b2b"))


def test_o20_prime_flag_needs_a_yes_no_field(book: Book) -> None:
    with pytest.raises(ChannelSettingsError, match="prime_flag_field"):
        save_settings(book.session, book.channel, ChannelSettings(prime_flag_field="gift"))


def test_c13_one_contact_mode_needs_the_contact(book: Book) -> None:
    with pytest.raises(ChannelSettingsError, match="one_contact_id: customer_mode one_contact needs"):
        parse_settings({"customer_mode": "one_contact"}, channel="amazon-uk")
    with pytest.raises(ChannelSettingsError, match="one_contact_id: contact 999999 does not exist"):
        save_settings(
            book.session, book.channel, ChannelSettings(customer_mode="one_contact", one_contact_id=999999)
        )
    save_settings(
        book.session,
        book.channel,
        ChannelSettings(customer_mode="one_contact", one_contact_id=book.contact.id),
    )


def test_pending_download_needs_a_generic_contact(book: Book) -> None:
    with pytest.raises(ChannelSettingsError, match="pending_contact_id"):
        change_settings(book.session, book.channel, {"download_pending": "yes"})
    change_settings(
        book.session, book.channel, {"download_pending": "yes", "pending_contact_id": str(book.contact.id)}
    )
    assert settings_for(book.session, book.channel).download_pending is True


def test_every_named_record_must_exist_and_be_of_the_right_kind(book: Book) -> None:
    cases = {
        "status_new_prime": ("Nope", "order status 'Nope' does not exist"),
        "price_list": ("NOPE", "price list 'NOPE' does not exist"),
        "fbm_warehouse": ("FBA-EU", "warehouse 'FBA-EU' is fba, not own"),
        "fba_warehouse": ("MAIN", "warehouse 'MAIN' is own, not fba"),
        "shipping_nominal_code": ("9999", "nominal code '9999' does not exist"),
        "no_email_contact_id": ("99999", "contact 99999 does not exist"),
    }
    for name, (value, problem) in cases.items():
        with pytest.raises(ChannelSettingsError, match=f"channel amazon-uk: {name}: {problem}"):
            change_settings(book.session, book.channel, {name: value})


def test_unknown_setting_and_bad_values_are_named(book: Book) -> None:
    with pytest.raises(ChannelSettingsError, match="colour: no such setting"):
        change_settings(book.session, book.channel, {"colour": "red"})
    with pytest.raises(ChannelSettingsError, match="download_pending: "):
        parse_settings({"download_pending": "maybe"}, channel="amazon-uk")


def test_resolve_turns_names_into_ids_with_company_defaults(book: Book) -> None:
    add_nominal_code(book.session, "4040", "Shipping")
    change_settings(
        book.session,
        book.channel,
        {"fbm_warehouse": "MAIN", "fba_warehouse": "FBA-EU", "shipping_nominal_code": "4040"},
    )

    resolved = resolve(book.session, book.channel)

    assert (resolved.fbm_warehouse_id, resolved.fba_warehouse_id) == (book.warehouse.id, book.fba.id)
    assert resolved.shipping_nominal_code == "4040" and resolved.marketplace_id == "A1F83G8C2ARO7P"
    assert resolved.tax_behaviour == TaxBehaviour.GROSS_RECALCULATED
    assert resolved.status_ids["Pending"] > 0


def test_export_and_import_round_trip_and_import_is_all_or_nothing(book: Book) -> None:
    us = save_channel(book.session, "amazon-us", "Amazon US", ChannelKind.AMAZON, "ATVPDKIKX0DER")
    book.session.flush()
    change_settings(
        book.session, book.channel, {"gift_message_field": "gift", "status_new_fba": "New FBA order"}
    )
    text = export_settings(book.session)
    exported = yaml.safe_load(text)["amazon_channels"]
    assert (
        exported["amazon-uk"]["gift_message_field"] == "gift"
        and exported["amazon-us"]["download_pending"] is False
    )

    exported["amazon-us"]["status_new_prime"] = "New Prime order"
    exported["amazon-uk"]["gift_message_field"] = "note"  # refused: the whole import changes nothing
    with pytest.raises(ChannelSettingsError, match="amazon-uk: gift_message_field"):
        import_settings(book.session, yaml.safe_dump({"amazon_channels": exported}))
    assert settings_for(book.session, us).status_new_prime is None

    exported["amazon-uk"]["gift_message_field"] = "gift"
    assert import_settings(book.session, yaml.safe_dump({"amazon_channels": exported})) == [
        "amazon-uk",
        "amazon-us",
    ]
    assert settings_for(book.session, us).status_new_prime == "New Prime order"
    assert export_settings(book.session) != text


def test_import_names_an_unknown_channel(book: Book) -> None:
    with pytest.raises(ChannelSettingsError, match="channel amazon-zz: no Amazon channel"):
        import_settings(book.session, "amazon_channels:\n  amazon-zz: {}\n")
    with pytest.raises(ChannelSettingsError, match="amazon_channels"):
        import_settings(book.session, "- a list\n")


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_cli_channels_show_set_export_import(run: Run, tmp_path: Path) -> None:
    assert run("channels", "add", "amazon-de", "A1PA6795UKMFR9", "--name", "Amazon DE").exit_code == 0

    changed = run("channels", "set", "amazon-de", "status_new_fba=New FBA order", "returns_to_stock=no")
    refused = run("channels", "set", "amazon-de", "status_new_prime=Nope")
    shown = json_of(run("channels", "show", "amazon-de", "--json"))
    exported = run("channels", "export", "--output", str(tmp_path / "channels.yaml"))
    (tmp_path / "channels.yaml").write_text(
        (tmp_path / "channels.yaml").read_text().replace("returns_to_stock: false", "returns_to_stock: true")
    )
    imported = run("channels", "import", str(tmp_path / "channels.yaml"))

    assert changed.exit_code == 0, changed.output
    assert refused.exit_code == 1 and "status_new_prime: order status 'Nope' does not exist" in refused.output
    assert shown["status_new_fba"] == "New FBA order" and shown["returns_to_stock"] is False
    assert exported.exit_code == 0 and imported.exit_code == 0, imported.output
    assert json_of(run("channels", "show", "amazon-de", "--json"))["returns_to_stock"] is True
    assert "tax behaviour" in run("channels", "show", "amazon-de").stdout


def test_cod_fee_and_delivery_tip_codes_default_to_the_companys_and_a_channel_may_set_its_own(
    book: Book,
) -> None:
    for code, name in (("4050", "COD fees"), ("4060", "Tips"), ("4061", "Tips UK")):
        add_nominal_code(book.session, code, name)
    book.session.flush()
    defaults = company(book.session)
    defaults.cod_fee_nominal_code, defaults.delivery_tip_nominal_code = "4050", "4060"

    assert (
        resolve(book.session, book.channel).cod_fee_nominal_code,
        resolve(book.session, book.channel).delivery_tip_nominal_code,
    ) == ("4050", "4060")
    change_settings(book.session, book.channel, {"delivery_tip_nominal_code": "4061"})
    assert resolve(book.session, book.channel).delivery_tip_nominal_code == "4061"
    with pytest.raises(
        ChannelSettingsError, match="cod_fee_nominal_code: nominal code '9999' does not exist"
    ):
        change_settings(book.session, book.channel, {"cod_fee_nominal_code": "9999"})
