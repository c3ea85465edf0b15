"""Set-up from the command line: tax codes and rules (O13), custom fields (O12, O18), the seller's own
contacts (C13, the Pending-order contact) and the carrier of a shipping method (O8)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from orderbridge.amazon.marketplaces import MARKETPLACES
from orderbridge.book.custom_fields import CustomFieldDefinition
from orderbridge.book.orders.model import SalesOrder, Shipment
from orderbridge.book.orders.statuses import shipping_method
from orderbridge.book.tax import TaxCode, TaxRule, pick_tax_code
from orderbridge.cli import context
from orderbridge.privacy.models import AuditAction, AuditEntry
from tests.book.builders import make_book
from tests.cli.conftest import Run, json_of
from tests.conftest import STORES

pytestmark = pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
CsvFile = Callable[[str, str], Path]
UK = MARKETPLACES["UK"].marketplace_id
DE = MARKETPLACES["DE"].marketplace_id


def _count(model: type) -> int:
    with context.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _refused(result: object, *says: str) -> None:
    output = getattr(result, "output", "")
    assert getattr(result, "exit_code", None) == 1, output
    assert "Traceback" not in output
    for words in says:
        assert words in output, output


# -- tax ---------------------------------------------------------------------------------------------


def test_O13_tax_codes_and_rules_from_the_command_line_pick_each_row_s_code(run: Run) -> None:
    # given two codes and rules by marketplace (written as its code), country and tax class
    assert run("tax", "codes", "add", "VAT-GB", "UK standard", "20%").exit_code == 0
    assert run("tax", "codes", "add", "VAT-GB-R", "UK reduced", "0.05").exit_code == 0
    assert run("tax", "rules", "add", "VAT-GB", "--marketplace", "UK", "--country", "gb").exit_code == 0
    added = run("tax", "rules", "add", "VAT-GB-R", "--marketplace", "UK", "--tax-class", "child-seat")
    assert added.exit_code == 0 and "-> VAT-GB-R" in added.stdout
    # when the same criteria are given again, the rule changes instead of doubling
    again = run(
        "tax",
        "rules",
        "add",
        "VAT-GB-R",
        "--marketplace",
        "uk",
        "--tax-class",
        "child-seat",
        "--priority",
        "2",
    )
    assert again.exit_code == 0 and "changed" in again.stdout

    # then the lists, as scripts read them
    codes = json_of(run("tax", "codes", "list", "--json"))
    assert codes == [
        {"code": "VAT-GB", "name": "UK standard", "rate": "0.2", "rules": 1, "company_default": False},
        {"code": "VAT-GB-R", "name": "UK reduced", "rate": "0.05", "rules": 1, "company_default": False},
    ]
    rules = json_of(run("tax", "rules", "list", "--json"))
    assert [
        (r["marketplace"], r["ship_to_country"], r["tax_class"], r["priority"], r["tax_code"]) for r in rules
    ] == [
        ("UK", None, "child-seat", 2, "VAT-GB-R"),  # as specific, and the higher priority
        ("UK", "GB", None, 0, "VAT-GB"),
    ]
    # and the mapping's question (marketplace id, country, class) gets the rule's answer
    with context.unit_of_work() as session:
        assert pick_tax_code(session, marketplace=UK, ship_to_country="GB", tax_class=None) == "VAT-GB"
        assert (
            pick_tax_code(session, marketplace=UK, ship_to_country="FR", tax_class="child-seat") == "VAT-GB-R"
        )
        assert pick_tax_code(session, marketplace=DE, ship_to_country="GB", tax_class=None) is None


def test_tax_refusals_name_the_value_and_store_nothing(run: Run) -> None:
    _refused(run("tax", "codes", "add", "VAT-X", "Twenty", "20"), "rate '20'", "20%")
    _refused(run("tax", "codes", "add", "VAT-X", "Bad", "abc"), "rate 'abc'")
    _refused(run("tax", "rules", "add", "NOPE"), "tax code 'NOPE' does not exist")
    assert run("tax", "codes", "add", "VAT-GB", "UK standard", "20%").exit_code == 0
    _refused(run("tax", "rules", "add", "VAT-GB", "--country", "UK"), "country 'UK'", "GB")
    _refused(run("tax", "rules", "add", "VAT-GB", "--marketplace", "XX"), "marketplace 'XX'")
    assert (_count(TaxCode), _count(TaxRule)) == (1, 0)


def test_tax_imports_name_every_bad_line_and_a_second_run_changes_nothing(
    run: Run, csv_file: CsvFile
) -> None:
    codes = csv_file(
        "codes.csv", "code,name,rate\nVAT-DE,Germany standard,19%\nVAT-DE-R,Germany reduced,0.07"
    )
    rules = csv_file(
        "rules.csv",
        "tax_code;marketplace;ship_to_country;tax_class;priority\nVAT-DE;DE;DE;;\nVAT-DE-R;DE;;books;1",
    )
    # a bad rules file before the codes exist: every problem named, nothing imported
    bad = csv_file("bad.csv", "tax_code,marketplace,ship_to_country,priority\nVAT-DE,XX,UK,x\nVAT-DE,,,")
    _refused(
        run("tax", "rules", "import", str(bad)),
        "line 2, column marketplace",
        "line 2, column ship_to_country",
        "line 2, column priority: must be a whole number (x)",
        "line 2, column tax_code: no tax code has this code (VAT-DE)",
        "line 3, column tax_code",
    )
    _refused(
        run("tax", "codes", "import", str(csv_file("c.csv", "code,name,rate\nA,A,150%"))),
        "line 2, column rate",
    )
    assert (_count(TaxCode), _count(TaxRule)) == (0, 0)

    first = [
        run("tax", kind, "import", str(path)).stdout for kind, path in (("codes", codes), ("rules", rules))
    ]
    second = [
        run("tax", kind, "import", str(path)).stdout for kind, path in (("codes", codes), ("rules", rules))
    ]
    assert "2 created" in first[0] and "2 created" in first[1]
    assert (
        "0 created, 0 changed, 2 unchanged" in second[0] and "0 created, 0 changed, 2 unchanged" in second[1]
    )
    assert (_count(TaxCode), _count(TaxRule)) == (2, 2)
    with context.unit_of_work() as session:
        assert pick_tax_code(session, marketplace=DE, ship_to_country="AT", tax_class="books") == "VAT-DE-R"


# -- custom fields -----------------------------------------------------------------------------------


def test_O12_O18_custom_fields_of_each_kind_for_orders_and_contacts(run: Run) -> None:
    # given a field of each kind on sales orders, and one on contacts
    for code, kind in (("po", "text"), ("gift", "text_area"), ("business", "yes/no")):
        added = run("fields", "add", code, code.title(), kind)
        assert added.exit_code == 0, added.output
    assert run("fields", "add", "lane", "Lane", "select", "--option", "A", "--option", "B").exit_code == 0
    assert run("fields", "add", "vip", "VIP", "yes_no", "--for", "contact").exit_code == 0
    # when a channel setting names one of them
    assert run("channels", "add", "amazon-uk", UK).exit_code == 0
    assert run("channels", "set", "amazon-uk", "gift_message_field=gift").exit_code == 0

    listed = json_of(run("fields", "list", "--json"))
    assert [(f["record"], f["code"], f["kind"], f["options"]) for f in listed] == [
        ("contact", "vip", "yes_no", []),
        ("sales_order", "business", "yes_no", []),
        ("sales_order", "gift", "text_area", []),
        ("sales_order", "lane", "select", ["A", "B"]),
        ("sales_order", "po", "text", []),
    ]
    assert next(f for f in listed if f["code"] == "gift")["used_by"] == ["amazon-uk:gift_message_field"]
    assert [f["code"] for f in json_of(run("fields", "list", "--json", "--for", "contact"))] == ["vip"]
    # then refusals name what is wrong, and add nothing
    _refused(run("fields", "add", "x", "X", "numeric"), "kind 'numeric'", "text_area")
    _refused(run("fields", "add", "x", "X", "text", "--for", "order"), "record kind 'order'")
    _refused(run("fields", "add", "x", "X", "select"), "'x'", "select needs them")
    _refused(run("fields", "add", "po", "Again", "text"), "'po' already exists")
    assert _count(CustomFieldDefinition) == 5


# -- contacts ----------------------------------------------------------------------------------------

SECRET_EMAIL = "pending-desk@seller.example"
SECRET_NAME = "Pending Desk Ltd"


def test_C13_a_contact_of_the_seller_is_sealed_listed_without_buyer_data_and_revealed_only_with_a_purpose(
    run: Run,
) -> None:
    assert run("price-lists", "add", "RETAIL", "Retail", "GBP").exit_code == 0
    added = run(
        "contacts", "add", "--company", SECRET_NAME, "--email", SECRET_EMAIL, "--country", "gb",
        "--price-list", "RETAIL", "--tag", "amazon-pending",
    )  # fmt: skip
    assert added.exit_code == 0 and added.stdout.strip() == "contact 1 added"
    # sealed at rest (P2)
    with context.engine().connect() as connection:
        stored = connection.execute(text("SELECT company_name, email FROM contacts")).one()
    assert all(value.startswith("ob1:") for value in stored)

    listed = run("contacts", "list", "--json", "--marketplace", "own")
    assert [(c["id"], c["marketplace"], c["country"], c["tags"], c["orders"]) for c in json_of(listed)] == [
        (1, None, "GB", ["amazon-pending"], 0)
    ]
    assert json_of(run("contacts", "list", "--json", "--marketplace", "UK")) == []
    masked = run("contacts", "show", "1", "--json")
    shown = json_of(masked)
    assert shown["revealed"] is False and shown["price_list"] == "RETAIL"
    assert shown["buyer_data"]["email"] == "[protected]" and SECRET_EMAIL not in masked.stdout
    table = run("contacts", "show", "1")
    assert "[protected]" in table.stdout and SECRET_NAME not in table.stdout
    assert _reads() == []

    revealed = run("contacts", "show", "1", "--purpose", "support")
    assert revealed.exit_code == 0 and SECRET_NAME in revealed.stdout and SECRET_EMAIL in revealed.stdout
    assert _reads() == [("contact:1", "support")]
    # the contact serves as a channel's contact for Pending orders
    assert run("channels", "add", "amazon-uk", UK).exit_code == 0
    assert run("channels", "set", "amazon-uk", "download_pending=yes", "pending_contact_id=1").exit_code == 0


def _reads() -> list[tuple[str, str]]:
    with context.unit_of_work() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.PII_READ))
        return [(e.subjects[0], e.detail["purpose"]) for e in entries]


def test_contact_refusals_name_what_is_wrong(run: Run) -> None:
    _refused(run("contacts", "add", "--email", SECRET_EMAIL), "--company")
    _refused(
        run("contacts", "add", "--company", "X", "--price-list", "NOPE"), "price list 'NOPE' does not exist"
    )
    _refused(run("contacts", "add", "--company", "X", "--country", "UK"), "country 'UK'")
    _refused(run("contacts", "list", "--marketplace", "XX"), "marketplace 'XX'")
    _refused(run("contacts", "show", "99"), "contact 99 does not exist")
    assert json_of(run("contacts", "list", "--json")) == []


# -- shipping methods --------------------------------------------------------------------------------


def test_O8_a_shipping_method_s_carrier_is_set_listed_and_ships_its_orders(run: Run) -> None:
    # given an Amazon order of the shipping method STANDARD, which has no carrier yet
    with context.unit_of_work() as session:
        book = make_book(session, skus=("MUG-1",))
        book.receive("MUG-1", 5)
        order = book.order("202-0000001-0000001", [("MUG-1", 1)])
        order.shipping_method_id = shipping_method(session, "STANDARD").id
    assert json_of(run("shipping-methods", "list", "--json")) == [
        {"name": "STANDARD", "carrier": None, "orders": 1}
    ]
    # refused: a carrier not on the carrier list, or neither a carrier nor --clear
    _refused(run("shipping-methods", "set-carrier", "STANDARD", "Pigeon Post"), "carrier 'Pigeon Post'")
    _refused(run("shipping-methods", "set-carrier", "STANDARD"), "--clear")
    # when the carrier is set (in any case), and one for a method no order has yet
    done = run("shipping-methods", "set-carrier", "STANDARD", "royal mail")
    assert done.exit_code == 0 and done.stdout.strip() == "shipping method STANDARD: carrier Royal Mail"
    new = run("shipping-methods", "set-carrier", "NEXT_DAY", "DPD")
    assert new.exit_code == 0 and "a new shipping method" in new.stdout
    assert json_of(run("shipping-methods", "list", "--json")) == [
        {"name": "NEXT_DAY", "carrier": "DPD", "orders": 0},
        {"name": "STANDARD", "carrier": "Royal Mail", "orders": 1},
    ]
    # then shipping the order without a carrier uses its method's
    shipped = run("orders", "ship", "202-0000001-0000001", "--tracking", "RM123456785GB")
    assert shipped.exit_code == 0, shipped.output
    with context.unit_of_work() as session:
        assert session.scalars(select(Shipment.carrier)).one() == "Royal Mail"
        assert session.scalars(select(SalesOrder.shipped_at)).one() is not None
    cleared = run("shipping-methods", "set-carrier", "STANDARD", "--clear")
    assert cleared.exit_code == 0 and "no carrier" in cleared.stdout
