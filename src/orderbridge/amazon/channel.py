"""Channel settings per Amazon marketplace: validated against the book, stored per channel, as YAML."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import ForeignKey, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.amazon.fba_warehouses import account_fba_warehouse
from orderbridge.amazon.marketplaces import by_id, code_of
from orderbridge.book.catalog import PriceList
from orderbridge.book.channels import Channel, ChannelKind, save_channel
from orderbridge.book.contacts import Contact, NewContact, create_contact
from orderbridge.book.custom_fields import CustomFieldDefinition, FieldKind, RecordKind
from orderbridge.book.inventory import Warehouse, WarehouseKind
from orderbridge.book.orders.model import OrderStatus
from orderbridge.book.orders.statuses import set_channel_statuses
from orderbridge.book.tax import NominalCode, company
from orderbridge.db import Base, Json
from orderbridge.errors import OrderbridgeError

AMAZON_TAG = "amazon"  # C12: a mailer must honour it; the book sends no e-mail to Amazon's relay addresses
NO_EMAIL_TAG = "amazon-no-email"
NO_EMAIL_CONTACT_TO_CREATE = 0  # a preview's stand-in for the no-e-mail contact not created yet


class ChannelSettingsError(OrderbridgeError):
    """Settings refused: the message names the channel, the setting and what is wrong with it."""


class CustomerMode(StrEnum):
    CREATE_CONTACTS = "create_contacts"
    ONE_CONTACT = "one_contact"  # C13: every order to one chosen contact; buyer data on the order only


class TaxBehaviour(StrEnum):
    NET_AS_SENT = "na"  # O14: prices net, tax as Amazon sent it
    GROSS_RECALCULATED = "eu"  # O15: prices include tax; net and tax recalculated from the tax code


class ChannelSettings(BaseModel):
    """The settings of one Amazon marketplace. Book records are named by their code or name."""

    model_config = ConfigDict(extra="forbid", use_enum_values=False, validate_assignment=True)

    download_pending: bool = False
    status_pending: str = "Pending"
    status_new: str = "New order"
    status_new_prime: str | None = None
    status_new_fba: str | None = None
    # Where orders move once shipped in full and once cancelled (kept on the book's channel, which the
    # book's ship and cancel read; not in the stored document).
    status_shipped: str = "Shipped"
    status_cancelled: str = "Cancelled"
    price_list: str | None = None
    customer_mode: CustomerMode = CustomerMode.CREATE_CONTACTS
    one_contact_id: int | None = Field(default=None, gt=0)
    pending_contact_id: int | None = Field(default=None, gt=0)
    # C1/C4: orders with no buyer e-mail (FBA: Amazon gives it for FBM orders only) cannot be matched to a
    # returning buyer; they book to this contact, their buyer data on the order only (as C13). Created on
    # first need when unset.
    no_email_contact_id: int | None = Field(default=None, gt=0)
    gift_message_field: str | None = None
    business_field: str | None = None
    po_number_field: str | None = None
    buyer_vat_field: str | None = None
    prime_flag_field: str | None = None
    skip_sfp_shipment_confirmation: bool = False
    fbm_warehouse: str | None = None
    fba_warehouse: str | None = None
    # F3: the own warehouse FBA inbound shipments leave from; empty means fbm_warehouse.
    inbound_source_warehouse: str | None = None
    # F2: returned FBM units go back on hand for resale (FBA returns follow Amazon's disposition, F8).
    returns_to_stock: bool = True
    tax_behaviour: TaxBehaviour | None = None
    sales_nominal_code: str | None = None
    shipping_nominal_code: str | None = None
    # Cash-on-delivery fees and delivery tips book as their own rows; empty means the company default.
    cod_fee_nominal_code: str | None = None
    delivery_tip_nominal_code: str | None = None
    # R2: settlement fees by type (amount-description, e.g. Commission) -> nominal code; others to
    # fee_nominal_code. Withheld tax (O16), reimbursements and other settlement amounts have their own.
    fee_nominal_codes: dict[str, str] = Field(default_factory=dict)
    fee_nominal_code: str | None = None
    withheld_tax_nominal_code: str | None = None
    reimbursement_nominal_code: str | None = None
    other_settlement_nominal_code: str | None = None

    @model_validator(mode="after")
    def _contacts_named(self) -> ChannelSettings:
        if self.customer_mode == CustomerMode.ONE_CONTACT and self.one_contact_id is None:
            raise ValueError(
                "one_contact_id: customer_mode one_contact needs the contact to assign orders to"
            )
        if self.download_pending and self.pending_contact_id is None and self.one_contact_id is None:
            raise ValueError(
                "pending_contact_id: download_pending needs a generic contact for pending orders"
            )
        return self

    def tax_behaviour_for(self, marketplace_id: str | None) -> TaxBehaviour:
        if self.tax_behaviour is not None:
            return self.tax_behaviour
        return TaxBehaviour.NET_AS_SENT if _net_prices(marketplace_id) else TaxBehaviour.GROSS_RECALCULATED


class StoredChannelSettings(Base):
    """The settings document of one Amazon channel (validated by `ChannelSettings` before it is stored)."""

    __tablename__ = "amazon_channel_settings"
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(Json)


@dataclass(frozen=True)
class ChannelBook:
    """Channel settings resolved to the book's ids: what mapping needs, loaded once per page."""

    channel_id: int
    marketplace_id: str
    settings: ChannelSettings
    tax_behaviour: TaxBehaviour
    status_ids: dict[str, int]
    price_list_id: int | None
    fbm_warehouse_id: int | None
    fba_warehouse_id: int | None
    sales_nominal_code: str | None
    shipping_nominal_code: str | None
    no_email_contact_id: int | None = None  # C1/C4: orders without a buyer e-mail (FBA) book to it
    cod_fee_nominal_code: str | None = None
    delivery_tip_nominal_code: str | None = None


def parse_settings(data: dict[str, Any], *, channel: str) -> ChannelSettings:
    """Validate a settings mapping; the error names the channel and every bad setting."""
    try:
        return ChannelSettings.model_validate(data)
    except ValidationError as error:
        problems = []
        for issue in error.errors():
            where = ".".join(str(part) for part in issue["loc"])
            message = str(issue["msg"]).removeprefix("Value error, ")
            problems.append(f"{where}: {message}" if where else message)
        raise ChannelSettingsError(f"channel {channel}: " + "; ".join(problems)) from None


# Settings the book keeps on its channel row (book.orders.statuses reads them), not in the document.
ON_CHANNEL = ("status_shipped", "status_cancelled")


def settings_for(session: Session, channel: Channel) -> ChannelSettings:
    """The channel's settings, or the defaults while none are saved."""
    stored = session.get(StoredChannelSettings, channel.id)
    data = dict(stored.document) if stored else {}
    for name, status_id in (
        ("status_shipped", channel.shipped_status_id),
        ("status_cancelled", channel.cancelled_status_id),
    ):
        status = session.get(OrderStatus, status_id) if status_id is not None else None
        if status is not None:
            data[name] = status.name
    return parse_settings(data, channel=channel.code)


def save_settings(session: Session, channel: Channel, settings: ChannelSettings) -> ChannelSettings:
    """Check the settings against the book (O12 and every named record) and store them."""
    check_against_book(session, channel, settings)
    set_channel_statuses(
        session, channel, shipped=settings.status_shipped, cancelled=settings.status_cancelled
    )
    document = settings.model_dump(mode="json", exclude_defaults=True, exclude=set(ON_CHANNEL))
    stored = session.get(StoredChannelSettings, channel.id)
    if stored is None:
        session.add(StoredChannelSettings(channel_id=channel.id, document=document))
    else:
        stored.document = document
    session.flush()
    return settings


def change_settings(session: Session, channel: Channel, changes: dict[str, str]) -> ChannelSettings:
    """Apply `setting=value` changes given as text (empty text clears a setting) and save."""
    data = settings_for(session, channel).model_dump(mode="json")
    for name, text in changes.items():
        if name not in ChannelSettings.model_fields:
            raise ChannelSettingsError(f"channel {channel.code}: {name}: no such setting")
        data[name] = _mapping_from_text(channel, name, text) if name in MAPPINGS else _from_text(text)
    return save_settings(session, channel, parse_settings(data, channel=channel.code))


MAPPINGS = ("fee_nominal_codes",)


def _mapping_from_text(channel: Channel, name: str, text: str) -> dict[str, str]:
    """`Commission=4010,FBAPerUnitFulfillmentFee=4020` (empty text: no entries)."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ChannelSettingsError(
                f"channel {channel.code}: {name}: {part!r} is not TYPE=CODE (e.g. Commission=4010)"
            )
        out[key.strip()] = value.strip()
    return out


def _from_text(text: str) -> object:
    if text.strip() == "":
        return None
    lowered = text.strip().lower()
    if lowered in ("yes", "true", "on"):
        return True
    if lowered in ("no", "false", "off"):
        return False
    return text.strip()


def check_against_book(session: Session, channel: Channel, settings: ChannelSettings) -> None:
    """Every record a setting names must exist and be of the right kind; the first problem is raised."""
    where = f"channel {channel.code}"
    if channel.kind != ChannelKind.AMAZON or not channel.marketplace_id:
        raise ChannelSettingsError(f"{where}: is not an Amazon marketplace channel")
    for name in ("status_pending", "status_new", "status_new_prime", "status_new_fba", *ON_CHANNEL):
        value = getattr(settings, name)
        if value is None:
            continue
        status = session.scalar(select(OrderStatus).where(OrderStatus.name == value))
        if status is None:
            raise ChannelSettingsError(f"{where}: {name}: order status {value!r} does not exist")
        if name == "status_cancelled" and not status.is_cancelled:
            raise ChannelSettingsError(f"{where}: {name}: order status {value!r} is not a cancelled status")
        if name == "status_shipped" and status.is_cancelled:
            raise ChannelSettingsError(f"{where}: {name}: order status {value!r} is a cancelled status")
    if settings.price_list and _by(session, PriceList, PriceList.code, settings.price_list) is None:
        raise ChannelSettingsError(f"{where}: price_list: price list {settings.price_list!r} does not exist")
    for name in ("one_contact_id", "pending_contact_id", "no_email_contact_id"):
        contact_id = getattr(settings, name)
        if contact_id is not None and session.get(Contact, contact_id) is None:
            raise ChannelSettingsError(f"{where}: {name}: contact {contact_id} does not exist")
    _check_fields(session, where, settings)
    _check_warehouse(session, where, "fbm_warehouse", settings.fbm_warehouse, WarehouseKind.OWN)
    _check_warehouse(session, where, "fba_warehouse", settings.fba_warehouse, WarehouseKind.FBA)
    _check_warehouse(
        session, where, "inbound_source_warehouse", settings.inbound_source_warehouse, WarehouseKind.OWN
    )
    for name in NOMINAL_SETTINGS:
        code = getattr(settings, name)
        if code is not None and session.get(NominalCode, code) is None:
            raise ChannelSettingsError(f"{where}: {name}: nominal code {code!r} does not exist")
    for fee, code in settings.fee_nominal_codes.items():
        if session.get(NominalCode, code) is None:
            raise ChannelSettingsError(
                f"{where}: fee_nominal_codes: {fee}: nominal code {code!r} does not exist"
            )


NOMINAL_SETTINGS = (
    "sales_nominal_code",
    "shipping_nominal_code",
    "cod_fee_nominal_code",
    "delivery_tip_nominal_code",
    "fee_nominal_code",
    "withheld_tax_nominal_code",
    "reimbursement_nominal_code",
    "other_settlement_nominal_code",
)


# Which kind each custom-field setting needs: O12 gift messages a text area, O18/O20 yes/no or text.
FIELD_KINDS: dict[str, tuple[FieldKind, str]] = {
    "gift_message_field": (FieldKind.TEXT_AREA, "gift messages need a sales-order text area field"),
    "business_field": (FieldKind.YES_NO, "the Business flag needs a sales-order yes/no field"),
    "po_number_field": (FieldKind.TEXT, "the PO number needs a sales-order text field"),
    "buyer_vat_field": (FieldKind.TEXT, "the buyer VAT number needs a sales-order text field"),
    "prime_flag_field": (FieldKind.YES_NO, "the prime flag needs a sales-order yes/no field"),
}


def _check_fields(session: Session, where: str, settings: ChannelSettings) -> None:
    for name, (kind, need) in FIELD_KINDS.items():
        code = getattr(settings, name)
        if code is None:
            continue
        definition = session.scalar(
            select(CustomFieldDefinition).where(
                CustomFieldDefinition.record_kind == RecordKind.SALES_ORDER,
                CustomFieldDefinition.code == code,
            )
        )
        if definition is None:
            raise ChannelSettingsError(f"{where}: {name}: sales-order custom field {code!r} does not exist")
        if definition.kind != kind:
            raise ChannelSettingsError(f"{where}: {name}: custom field {code!r} is {definition.kind}; {need}")


def _check_warehouse(session: Session, where: str, name: str, code: str | None, kind: WarehouseKind) -> None:
    if code is None:
        return
    warehouse = _by(session, Warehouse, Warehouse.code, code)
    if warehouse is None:
        raise ChannelSettingsError(f"{where}: {name}: warehouse {code!r} does not exist")
    if warehouse.kind != kind:
        raise ChannelSettingsError(f"{where}: {name}: warehouse {code!r} is {warehouse.kind}, not {kind}")


def _by(session: Session, model: Any, column: Any, value: str) -> Any:
    return session.scalar(select(model).where(column == value))


def resolve(session: Session, channel: Channel, *, account_id: int | None = None) -> ChannelBook:
    """The channel's settings with every named record turned into its id (company defaults filled in).
    With `account_id`, FBA orders book to that account's FBA warehouse of the channel's region."""
    settings = settings_for(session, channel)
    statuses = {
        name: status_id for name, status_id in session.execute(select(OrderStatus.name, OrderStatus.id))
    }
    price_list = _by(session, PriceList, PriceList.code, settings.price_list) if settings.price_list else None
    defaults = company(session)
    return ChannelBook(
        channel_id=channel.id,
        marketplace_id=channel.marketplace_id or "",
        settings=settings,
        tax_behaviour=settings.tax_behaviour_for(channel.marketplace_id),
        status_ids=statuses,
        price_list_id=price_list.id if price_list is not None else None,
        no_email_contact_id=settings.no_email_contact_id,
        fbm_warehouse_id=_warehouse_id(session, settings.fbm_warehouse),
        fba_warehouse_id=_fba_warehouse_id(session, settings.fba_warehouse, account_id),
        sales_nominal_code=settings.sales_nominal_code or defaults.sales_nominal_code,
        shipping_nominal_code=settings.shipping_nominal_code or defaults.shipping_nominal_code,
        cod_fee_nominal_code=settings.cod_fee_nominal_code or defaults.cod_fee_nominal_code,
        delivery_tip_nominal_code=settings.delivery_tip_nominal_code or defaults.delivery_tip_nominal_code,
    )


def with_no_email_contact(
    session: Session, channel: Channel, book: ChannelBook, *, now: datetime
) -> ChannelBook:
    """The channel's contact for orders without a buyer e-mail, created and saved in its settings on
    first need (C1, C4): one per marketplace, tagged so nothing mails it (C12), holding no buyer data."""
    if book.settings.customer_mode != CustomerMode.CREATE_CONTACTS or book.no_email_contact_id is not None:
        return book
    # Two runners may meet here on a channel's first such order: the settings row is locked (PostgreSQL
    # makes the second wait for the first's commit) and read again, so the second uses the first's contact.
    document = session.scalar(
        select(StoredChannelSettings.document)
        .where(StoredChannelSettings.channel_id == channel.id)
        .with_for_update()
    )
    made = (document or {}).get("no_email_contact_id")
    if made:
        settings = book.settings.model_copy(update={"no_email_contact_id": int(made)})
        return replace(book, settings=settings, no_email_contact_id=int(made))
    contact = create_contact(
        session,
        NewContact(
            company_name=f"{channel.name}: buyers without an e-mail (FBA)",
            price_list_id=book.price_list_id,
            origin_channel_id=channel.id,
            tags=frozenset({AMAZON_TAG, NO_EMAIL_TAG}),
        ),
        now=now,
    )
    session.flush()
    settings = save_settings(
        session, channel, book.settings.model_copy(update={"no_email_contact_id": contact.id})
    )
    return replace(book, settings=settings, no_email_contact_id=contact.id)


def _fba_warehouse_id(session: Session, code: str | None, account_id: int | None) -> int | None:
    warehouse = _by(session, Warehouse, Warehouse.code, code) if code else None
    if account_id is not None:
        warehouse = account_fba_warehouse(session, account_id, warehouse)
    return warehouse.id if warehouse is not None else None


def _warehouse_id(session: Session, code: str | None) -> int | None:
    warehouse = _by(session, Warehouse, Warehouse.code, code) if code else None
    return warehouse.id if warehouse is not None else None


def amazon_channels(session: Session) -> list[Channel]:
    query = select(Channel).where(Channel.kind == ChannelKind.AMAZON).order_by(Channel.code)
    return list(session.scalars(query))


def export_settings(session: Session, codes: Sequence[str] = ()) -> str:
    """Every Amazon channel's settings (or those of the channels `codes` names) as YAML (channel code ->
    settings), stable for diffs."""
    channels = amazon_channels(session)
    unknown = sorted(set(codes) - {channel.code for channel in channels})
    if unknown:
        known = ", ".join(channel.code for channel in channels) or "none yet"
        raise ChannelSettingsError(f"no Amazon channel {', '.join(unknown)} (Amazon channels: {known})")
    document = {
        channel.code: settings_for(session, channel).model_dump(mode="json")
        for channel in channels
        if not codes or channel.code in codes
    }
    return yaml.safe_dump({"amazon_channels": document}, sort_keys=True, allow_unicode=True)


def import_settings(session: Session, text: str) -> list[str]:
    """Validate every channel of a YAML export, then save them all (all or none); the codes saved."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ChannelSettingsError(f"settings file: not YAML ({error.__class__.__name__})") from None
    channels = loaded.get("amazon_channels") if isinstance(loaded, dict) else None
    if not isinstance(channels, dict):
        raise ChannelSettingsError(
            "settings file: needs an 'amazon_channels' mapping of channel code -> settings"
        )
    known = {channel.code: channel for channel in amazon_channels(session)}
    checked: list[tuple[Channel, ChannelSettings]] = []
    for code, data in channels.items():
        if code not in known:
            raise ChannelSettingsError(f"channel {code}: no Amazon channel with this code")
        if not isinstance(data, dict):
            raise ChannelSettingsError(f"channel {code}: settings must be a mapping")
        settings = parse_settings(data, channel=str(code))
        check_against_book(session, known[code], settings)
        checked.append((known[code], settings))
    for channel, settings in checked:
        save_settings(session, channel, settings)
    return [channel.code for channel, _ in checked]


def _net_prices(marketplace_id: str | None) -> bool:
    market = by_id(marketplace_id)
    return market is not None and market.net_prices


def channel_code(marketplace_id: str) -> str:
    """The code `channel_for` gives the Amazon channel of a marketplace (`amazon-us`, `amazon-uk` ...)."""
    return f"amazon-{code_of(marketplace_id).lower()}"


def channel_name(marketplace_id: str) -> str:
    """The name `channel_for` gives the Amazon channel of a marketplace (`Amazon US`, `Amazon UK` ...)."""
    return f"Amazon {code_of(marketplace_id).upper()}"


def channel_for(session: Session, marketplace_id: str) -> Channel:
    """The Amazon channel of a marketplace; created with default settings when there is none yet."""
    found = session.scalar(
        select(Channel)
        .where(Channel.kind == ChannelKind.AMAZON, Channel.marketplace_id == marketplace_id)
        .order_by(Channel.id)
    )
    if found is not None:
        return found
    code, name = channel_code(marketplace_id), channel_name(marketplace_id)
    channel = save_channel(session, code, name, ChannelKind.AMAZON, marketplace_id)
    session.flush()
    return channel
