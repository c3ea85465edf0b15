"""Channel settings per Amazon marketplace: the form, with every refused value named beside its field."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from orderbridge.amazon.channel import (
    FIELD_KINDS,
    ChannelSettings,
    ChannelSettingsError,
    amazon_channels,
    check_against_book,
    parse_settings,
    save_settings,
    settings_for,
)
from orderbridge.amazon.marketplaces import code_of
from orderbridge.book.alerts import Subject, open_alerts
from orderbridge.book.catalog import PriceList
from orderbridge.book.channels import Channel, ChannelKind
from orderbridge.book.contacts import Contact
from orderbridge.book.custom_fields import CustomFieldDefinition, FieldKind, RecordKind
from orderbridge.book.errors import NotFoundError
from orderbridge.book.inventory import Warehouse, WarehouseKind
from orderbridge.book.orders.model import OrderStatus
from orderbridge.book.tax import NominalCode
from orderbridge.web.deps import Db, Principal, require
from orderbridge.web.pages.rendering import back_to, not_found, page
from orderbridge.web.roles import Permission

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, require(Permission.SETTINGS_READ)]
Writer = Annotated[Principal, require(Permission.SETTINGS_WRITE)]

# (setting, label, help, options kind) in the order the form shows them, grouped. A setting with an
# options kind names a book record: the form offers the records as a drop-down, never a free-text id.
GROUPS: list[tuple[str, list[tuple[str, str, str, str]]]] = [
    (
        "Order statuses",
        [
            (
                "download_pending",
                "Download Pending orders",
                "Book orders while Amazon holds them as Pending.",
                "",
            ),
            ("status_pending", "Status for Pending orders", "", "status"),
            ("status_new", "Status for new orders", "", "status"),
            (
                "status_new_prime",
                "Status for new Prime orders",
                "Seller Fulfilled Prime orders (Prime orders you ship). Empty: the status for new orders.",
                "status",
            ),
            ("status_new_fba", "Status for new FBA orders", "Empty: the status for new orders.", "status"),
            (
                "status_shipped",
                "Status for shipped orders",
                "Orders move to it once shipped in full.",
                "open_status",
            ),
            (
                "status_cancelled",
                "Status for cancelled orders",
                "Orders move to it when cancelled; a status marked as cancelled.",
                "cancelled_status",
            ),
        ],
    ),
    (
        "Customers",
        [
            (
                "customer_mode",
                "Customers",
                "Create a contact per buyer, or book every order to one contact.",
                "",
            ),
            ("one_contact_id", "The one contact", "Needed when every order goes to one contact.", "contact"),
            (
                "pending_contact_id",
                "Contact for Pending orders",
                "Needed when Pending orders are downloaded.",
                "contact",
            ),
            (
                "no_email_contact_id",
                "Contact for orders without a buyer e-mail",
                "FBA orders carry no e-mail to match a buyer by.",
                "contact",
            ),
            ("price_list", "Price list", "", "price_list"),
        ],
    ),
    (
        "Custom fields",
        [
            ("gift_message_field", "Gift message field", "A sales-order text area.", "field"),
            ("business_field", "Business order flag", "A sales-order yes/no field.", "field"),
            ("po_number_field", "PO number field", "A sales-order text field.", "field"),
            ("buyer_vat_field", "Buyer VAT number field", "A sales-order text field.", "field"),
            ("prime_flag_field", "Prime flag field", "A sales-order yes/no field.", "field"),
        ],
    ),
    (
        "Fulfilment and stock",
        [
            (
                "fbm_warehouse",
                "Warehouse for seller-fulfilled orders",
                "One of your own warehouses.",
                "own_warehouse",
            ),
            ("fba_warehouse", "Warehouse for FBA orders", "An FBA warehouse.", "fba_warehouse"),
            (
                "inbound_source_warehouse",
                "Warehouse FBA inbound shipments leave from",
                "One of your own warehouses.",
                "own_warehouse",
            ),
            ("returns_to_stock", "Returns go back to stock", "", ""),
            ("skip_sfp_shipment_confirmation", "Skip shipment confirmation for SFP orders", "", ""),
        ],
    ),
    (
        "Tax and accounts",
        [
            ("tax_behaviour", "Prices from Amazon", "", ""),
            (
                "fee_nominal_code",
                "Nominal code for Amazon's fees",
                "Fees without a code of their own.",
                "nominal",
            ),
            ("sales_nominal_code", "Sales nominal code", "Empty: the company default.", "nominal"),
            ("shipping_nominal_code", "Shipping nominal code", "Empty: the company default.", "nominal"),
            (
                "cod_fee_nominal_code",
                "Cash-on-delivery fee nominal code",
                "Empty: the company default.",
                "nominal",
            ),
            (
                "delivery_tip_nominal_code",
                "Delivery tip nominal code",
                "Empty: the company default.",
                "nominal",
            ),
            ("withheld_tax_nominal_code", "Nominal code for tax Amazon withholds", "", "nominal"),
            ("reimbursement_nominal_code", "Nominal code for reimbursements", "", "nominal"),
            ("other_settlement_nominal_code", "Nominal code for other settlement amounts", "", "nominal"),
        ],
    ),
]
ON_FORM = frozenset(name for _title, fields in GROUPS for name, *_rest in fields)
CHOICE_LABELS = {
    "create_contacts": "A contact per buyer",
    "one_contact": "Every order to one contact",
    "na": "Net, with Amazon's tax",
    "eu": "Including tax, recalculated",
}
# What an empty drop-down means, where a setting may be left empty.
EMPTY_LABELS = {
    "status_new_prime": "(the status for new orders)",
    "status_new_fba": "(the status for new orders)",
    "no_email_contact_id": "(created on first need)",
    "inbound_source_warehouse": "(the warehouse for seller-fulfilled orders)",
    "tax_behaviour": "(by marketplace: North America net, elsewhere including tax)",
    "sales_nominal_code": "(the company default)",
    "shipping_nominal_code": "(the company default)",
}
CONTACT_OPTIONS = 500  # the seller's own contacts offered (Amazon buyers are never a channel's contact)

Option = tuple[str, str]  # (value, label)


def _options(session: Db) -> dict[str, list[Option]]:
    """The records each options kind offers: the value a setting stores and a label a seller knows."""
    statuses = list(session.scalars(select(OrderStatus).order_by(OrderStatus.position)))
    fields = session.scalars(
        select(CustomFieldDefinition)
        .where(CustomFieldDefinition.record_kind == RecordKind.SALES_ORDER)
        .order_by(CustomFieldDefinition.code)
    )

    def warehouses(kind: WarehouseKind) -> list[Option]:
        query = select(Warehouse).where(Warehouse.kind == kind).order_by(Warehouse.code)
        return [(w.code, f"{w.code} · {w.name}") for w in session.scalars(query)]

    return {
        "status": [(s.name, s.name) for s in statuses],
        "open_status": [(s.name, s.name) for s in statuses if not s.is_cancelled],
        "cancelled_status": [(s.name, s.name) for s in statuses if s.is_cancelled],
        "price_list": [
            (p.code, f"{p.code} · {p.name} ({p.currency})")
            for p in session.scalars(select(PriceList).order_by(PriceList.code))
        ],
        **{
            f"field:{kind}": [(d.code, f"{d.code} · {d.name}") for d in found]
            for kind, found in _fields_by_kind(list(fields)).items()
        },
        "own_warehouse": warehouses(WarehouseKind.OWN),
        "fba_warehouse": warehouses(WarehouseKind.FBA),
        "nominal": [
            (n.code, f"{n.code} · {n.name}")
            for n in session.scalars(select(NominalCode).order_by(NominalCode.code))
        ],
        "contact": _contact_options(session),
    }


def _fields_by_kind(found: list[CustomFieldDefinition]) -> dict[FieldKind, list[CustomFieldDefinition]]:
    return {kind: [d for d in found if d.kind == kind] for kind in FieldKind}


def _contact_options(session: Db) -> list[Option]:
    """The seller's own contacts (none is an Amazon buyer), newest first, by id and tags: names are
    buyer-data columns, sealed, and the settings page shows no buyer data."""
    query = (
        select(Contact)
        .where(Contact.marketplace_id.is_(None), Contact.merged_into_id.is_(None))
        .order_by(Contact.id.desc())
        .limit(CONTACT_OPTIONS)
    )
    return [(str(c.id), _contact_label(c)) for c in session.scalars(query)]


def _contact_label(contact: Contact) -> str:
    tags = ", ".join(sorted(contact.tag_names))
    return f"#{contact.id}" + (f" · {tags}" if tags else "")


def _options_of(name: str, kind: str, options: dict[str, list[Option]]) -> list[Option] | None:
    if kind == "field":
        return options[f"field:{FIELD_KINDS[name][0]}"]
    return options.get(kind) if kind else None


def _with_current(session: Db, kind: str, offered: list[Option], value: str) -> list[Option]:
    """The offered records, and the current value when it is not among them (a record removed since, or
    an Amazon buyer's contact), so the form shows what is set instead of silently changing it."""
    if not value or any(option == value for option, _label in offered):
        return offered
    if kind == "contact" and value.isdigit():
        found = session.get(Contact, int(value))
        if found is not None:
            market = f" · Amazon {code_of(found.marketplace_id)} buyer" if found.marketplace_id else ""
            return [*offered, (value, _contact_label(found) + market)]
    return [*offered, (value, f"{value} (does not exist)")]


def _choices(name: str) -> list[str] | None:
    annotation = ChannelSettings.model_fields[name].annotation
    for candidate in getattr(annotation, "__args__", (annotation,)):
        if isinstance(candidate, type) and issubclass(candidate, Enum):
            return [member.value for member in candidate]
    return None


def _is_flag(name: str) -> bool:
    return ChannelSettings.model_fields[name].annotation is bool


def field_errors(message: str, *, channel: str) -> dict[str, str]:
    """Split a ChannelSettingsError ("channel X: a: why; b: why") into setting -> why ("" for the form)."""
    text = message.removeprefix(f"channel {channel}: ")
    found: dict[str, str] = {}
    for part in text.split("; "):
        name, sep, why = part.partition(": ")
        if sep and name in ChannelSettings.model_fields:
            found[name] = f"{found[name]}; {why}" if name in found else why
        else:
            found[""] = f"{found.get('', '')} {part}".strip()
    return found


def _form(
    request: Request,
    session: Db,
    channel: Channel,
    values: dict[str, Any],
    *,
    errors: dict[str, str],
    status: int,
) -> Response:
    options = _options(session)
    groups = []
    for title, fields in GROUPS:
        shown = []
        for name, label, help_text, kind in fields:
            value = values.get(name)
            text = "" if value is None else str(value)
            offered = _options_of(name, kind, options)
            shown.append(
                {
                    "name": name,
                    "label": label,
                    "help": help_text,
                    "value": value,
                    "text": text,
                    "flag": _is_flag(name),
                    "choices": _choices(name),
                    "options": None if offered is None else _with_current(session, kind, offered, text),
                    "required": ChannelSettings.model_fields[name].default is not None,
                    "empty": EMPTY_LABELS.get(name, "(none)"),
                    "error": errors.get(name),
                }
            )
        groups.append((title, shown))
    return page(
        request,
        "pages/channel.html",
        {"channel": channel, "groups": groups, "errors": errors, "choice_labels": CHOICE_LABELS},
        status=status,
    )


def _channel(session: Db, code: str) -> Channel:
    channel = session.scalar(select(Channel).where(Channel.code == code, Channel.kind == ChannelKind.AMAZON))
    if channel is None:
        raise not_found(NotFoundError("Amazon channel", code))
    return channel


@router.get("/channels", response_class=HTMLResponse)
def channels(request: Request, session: Db, principal: Reader) -> Response:
    found = []
    for channel in amazon_channels(session):
        try:
            settings_for(session, channel)
            check_against_book(session, channel, settings_for(session, channel))
            problem = None
        except ChannelSettingsError as error:
            problem = str(error)
        found.append((channel, problem))
    warnings: dict[int, list[str]] = {}
    for alert in open_alerts(session, Subject.CHANNEL):  # a setting missing for a whole channel
        warnings.setdefault(alert.subject_id, []).append(alert.message)
    return page(request, "pages/channels.html", {"channels": found, "warnings": warnings})


@router.get("/channels/{code}", response_class=HTMLResponse)
def channel_page(code: str, request: Request, session: Db, principal: Reader) -> Response:
    channel = _channel(session, code)
    errors: dict[str, str] = {}
    try:
        values = settings_for(session, channel).model_dump(mode="json")
        check_against_book(session, channel, parse_settings(values, channel=channel.code))
    except ChannelSettingsError as error:  # saved before a record it names was removed: say so
        errors = field_errors(str(error), channel=channel.code)
        values = {}
    return _form(request, session, channel, values, errors=errors, status=200)


@router.post("/channels/{code}", response_class=HTMLResponse)
async def save_channel_settings(code: str, request: Request, session: Db, principal: Writer) -> Response:
    form = await request.form()
    channel = _channel(session, code)
    values = _not_on_form(session, channel)
    for name in ON_FORM:
        if _is_flag(name):
            values[name] = form.get(name) == "yes"
            continue
        raw = form.get(name)
        text = raw.strip() if isinstance(raw, str) else ""
        if text or ChannelSettings.model_fields[name].default is None:
            values[name] = text or None  # an emptied setting with a default goes back to its default
    try:
        settings = parse_settings(values, channel=channel.code)
        save_settings(session, channel, settings)
    except ChannelSettingsError as error:
        errors = field_errors(str(error), channel=channel.code)
        return _form(request, session, channel, values, errors=errors, status=422)
    return back_to(f"/channels/{code}", f"settings of {channel.code} saved")


def _not_on_form(session: Db, channel: Channel) -> dict[str, Any]:
    """The saved settings the form does not show (fee codes by type, set from the CLI or a YAML import):
    saving the form keeps them."""
    try:
        current = settings_for(session, channel).model_dump(mode="json")
    except ChannelSettingsError:
        return {}
    return {name: value for name, value in current.items() if name not in ON_FORM}
