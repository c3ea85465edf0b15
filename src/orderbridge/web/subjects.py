"""What an alert is about, as the seller knows it: the Amazon order id, the SKU, the settlement's
reference, the account's or channel's name; and the page that shows it. One query per kind of subject."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.book.alerts import Subject
from orderbridge.book.catalog import Product
from orderbridge.book.channels import Channel, ChannelKind
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.settlements import Settlement
from orderbridge.book.transfers import WarehouseTransfer


@dataclass(frozen=True)
class Named:
    text: str
    href: str | None


def subject_key(subject: str, subject_id: int) -> str:
    return f"{subject}:{subject_id}"


def name_subjects(session: Session, subjects: Iterable[tuple[str, int]]) -> dict[str, Named]:
    """Each (subject, id) by its seller-facing name and link; a subject gone from the book says so."""
    wanted: dict[str, set[int]] = {}
    for subject, subject_id in subjects:
        wanted.setdefault(str(subject), set()).add(subject_id)
    named: dict[str, Named] = {}
    for subject, ids in wanted.items():
        for subject_id, found in _named(session, subject, sorted(ids)).items():
            named[subject_key(subject, subject_id)] = found
        for subject_id in ids:
            named.setdefault(
                subject_key(subject, subject_id), Named(f"a {subject} no longer in the book", None)
            )
    return named


def _named(session: Session, subject: str, ids: list[int]) -> dict[int, Named]:
    if subject == Subject.ORDER:
        orders = (
            select(SalesOrder.id, SalesOrder.external_ref, Channel.kind == ChannelKind.AMAZON)
            .join(Channel, Channel.id == SalesOrder.channel_id)
            .where(SalesOrder.id.in_(ids))
        )
        return {
            i: Named(f"{'Amazon order' if amazon else 'order'} {ref}", f"/orders/{i}")
            for i, ref, amazon in session.execute(orders)
        }
    if subject == Subject.PRODUCT:
        return {
            i: Named(f"SKU {sku}", f"/products?q={quote(sku)}")
            for i, sku in session.execute(select(Product.id, Product.sku).where(Product.id.in_(ids)))
        }
    if subject == Subject.SETTLEMENT:
        settlements = select(Settlement.id, Settlement.reference).where(Settlement.id.in_(ids))
        return {i: Named(f"settlement {ref}", f"/settlements/{i}") for i, ref in session.execute(settlements)}
    if subject == Subject.TRANSFER:
        transfers = select(WarehouseTransfer.id, WarehouseTransfer.reference).where(
            WarehouseTransfer.id.in_(ids)
        )
        return {i: Named(f"inbound shipment {ref}", "/inbound") for i, ref in session.execute(transfers)}
    if subject == Subject.ACCOUNT:
        accounts = select(SellerAccount.id, SellerAccount.name).where(SellerAccount.id.in_(ids))
        return {i: Named(f"Amazon account {name}", "/") for i, name in session.execute(accounts)}
    if subject == Subject.CHANNEL:
        channels = select(Channel.id, Channel.code, Channel.name).where(Channel.id.in_(ids))
        return {
            i: Named(f"channel {name}", f"/channels/{quote(code)}")
            for i, code, name in session.execute(channels)
        }
    return {}
