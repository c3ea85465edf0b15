"""Channel settings per Amazon marketplace: the form, with every refused value named beside its field."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from orderbridge.amazon.channel import (
    ChannelSettings,
    ChannelSettingsError,
    amazon_channels,
    check_against_book,
    parse_settings,
    save_settings,
    settings_for,
)
from orderbridge.book.alerts import Subject, open_alerts
from orderbridge.book.catalog import PriceList
from orderbridge.book.channels import Channel, ChannelKind
from orderbridge.book.custom_fields import CustomFieldDefinition, RecordKind
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

# (setting, label, help, suggestions kind) in the order the form shows them, grouped.
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
                "status",
            ),
            (
                "status_cancelled",
                "Status for cancelled orders",
                "Orders move to it when cancelled; a status marked as cancelled.",
                "status",
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
            ("one_contact_id", "The one contact (id)", "Needed when every order goes to one contact.", ""),
            (
                "pending_contact_id",
                "Contact for Pending orders (id)",
                "Needed when Pending orders are downloaded.",
                "",
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
            ("returns_to_stock", "Returns go back to stock", "", ""),
            ("skip_sfp_shipment_confirmation", "Skip shipment confirmation for SFP orders", "", ""),
        ],
    ),
    (
        "Tax and accounts",
        [
            (
                "tax_behaviour",
                "Prices from Amazon",
                "Empty: by marketplace (North America net, elsewhere gross).",
                "",
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
        ],
    ),
]
CHOICE_LABELS = {
    "create_contacts": "A contact per buyer",
    "one_contact": "Every order to one contact",
    "na": "Net, with Amazon's tax",
    "eu": "Including tax, recalculated",
}


def _suggestions(session: Db) -> dict[str, list[str]]:
    fields = select(CustomFieldDefinition.code).where(
        CustomFieldDefinition.record_kind == RecordKind.SALES_ORDER
    )

    def codes(kind: WarehouseKind) -> list[str]:
        return list(
            session.scalars(select(Warehouse.code).where(Warehouse.kind == kind).order_by(Warehouse.code))
        )

    return {
        "status": list(session.scalars(select(OrderStatus.name).order_by(OrderStatus.position))),
        "price_list": list(session.scalars(select(PriceList.code).order_by(PriceList.code))),
        "field": list(session.scalars(fields.order_by(CustomFieldDefinition.code))),
        "own_warehouse": codes(WarehouseKind.OWN),
        "fba_warehouse": codes(WarehouseKind.FBA),
        "nominal": list(session.scalars(select(NominalCode.code).order_by(NominalCode.code))),
    }


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
    groups = [
        (
            title,
            [
                {
                    "name": name,
                    "label": label,
                    "help": help_text,
                    "value": values.get(name),
                    "flag": _is_flag(name),
                    "choices": _choices(name),
                    "list": suggestions,
                    "error": errors.get(name),
                }
                for name, label, help_text, suggestions in fields
            ],
        )
        for title, fields in GROUPS
    ]
    return page(
        request,
        "pages/channel.html",
        {
            "channel": channel,
            "groups": groups,
            "errors": errors,
            "suggestions": _suggestions(session),
            "choice_labels": CHOICE_LABELS,
        },
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
    values: dict[str, Any] = {}
    for name in ChannelSettings.model_fields:
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
