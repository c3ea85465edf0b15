"""Which book warehouse holds each seller account's FBA stock in each FBA region.

Amazon keeps FBA stock per seller account: two accounts selling in one marketplace have two stocks, and
the book keeps them apart. A marketplace's channel names its FBA warehouse (`fba_warehouse`); that
warehouse stands for an FBA region (its `region`, else its code): marketplaces whose channels name the
same warehouse share one stock at Amazon. Per account and region the book holds one warehouse:

- the one the seller mapped (`map_fba_warehouse`): mapping two accounts to one warehouse keeps their
  stock together on purpose;
- else the channel's warehouse, for the first account that needs it (recorded as that account's);
- else, for each further account, a warehouse of its own made beside it (`FBA-<seller id>`, same region),
  so one account's stock, opening count and ledger never touch another's.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.book.inventory import Warehouse, WarehouseKind, add_warehouse
from orderbridge.db import Base, BigId
from orderbridge.errors import OrderbridgeError


class FbaWarehouseError(OrderbridgeError):
    """A mapping refused: the message names the account, region or warehouse that is wrong."""


class FbaAccountWarehouse(Base):
    """One seller account's FBA stock of one FBA region: the book warehouse that holds it."""

    __tablename__ = "amazon_fba_warehouses"
    __table_args__ = (UniqueConstraint("account_id", "region"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("amazon_seller_accounts.id", ondelete="CASCADE"))
    region: Mapped[str] = mapped_column(String(40))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), index=True)


@dataclass(frozen=True)
class FbaMapping:
    """A mapping as the seller reads it."""

    account: str
    region: str
    warehouse: str


def region_of(warehouse: Warehouse) -> str:
    """The FBA region a channel's warehouse stands for: its region, else its code."""
    return (warehouse.region or warehouse.code).upper()


def account_fba_warehouse(
    session: Session, account_id: int, channel_warehouse: Warehouse | None
) -> Warehouse | None:
    """The warehouse of this account's FBA stock where the channel names `channel_warehouse` (None: the
    channel names none, so nothing of FBA books there). Recorded on first need (see the module text)."""
    if channel_warehouse is None:
        return None
    region = region_of(channel_warehouse)
    mapped = session.scalar(
        select(Warehouse)
        .join(FbaAccountWarehouse, FbaAccountWarehouse.warehouse_id == Warehouse.id)
        .where(FbaAccountWarehouse.account_id == account_id, FbaAccountWarehouse.region == region)
    )
    if mapped is not None:
        return mapped
    taken = session.scalar(
        select(FbaAccountWarehouse.id).where(
            FbaAccountWarehouse.warehouse_id == channel_warehouse.id,
            FbaAccountWarehouse.account_id != account_id,
        )
    )
    warehouse = channel_warehouse if taken is None else _own_warehouse(session, account_id, channel_warehouse)
    session.add(FbaAccountWarehouse(account_id=account_id, region=region, warehouse_id=warehouse.id))
    session.flush()
    return warehouse


def _own_warehouse(session: Session, account_id: int, beside: Warehouse) -> Warehouse:
    account = session.get(SellerAccount, account_id)
    partner = account.selling_partner_id if account is not None else str(account_id)
    code = f"{beside.code}-{partner}"[:40]
    found = session.scalar(select(Warehouse).where(Warehouse.code == code))
    if found is not None and found.kind == WarehouseKind.FBA:
        return found
    if found is not None:
        code = f"FBA-{account_id}-{region_of(beside)}"[:40]
    name = f"{beside.name} ({account.label if account is not None else account_id})"[:200]
    made = add_warehouse(session, code, name, WarehouseKind.FBA, region=beside.region)
    session.flush()
    return made


def map_fba_warehouse(
    session: Session, account: SellerAccount, region: str, warehouse_code: str
) -> FbaMapping:
    """The seller's choice: this account's FBA stock of `region` is held in `warehouse_code` (an FBA
    warehouse; another account's too when the seller keeps two accounts' stock together)."""
    region = region.strip().upper()
    known = {
        region_of(w) for w in session.scalars(select(Warehouse).where(Warehouse.kind == WarehouseKind.FBA))
    }
    if region not in known:
        raise FbaWarehouseError(
            f"account {account.label}: {region!r} is not an FBA region of the book "
            f"(the region, else the code, of an FBA warehouse: {', '.join(sorted(known)) or 'none yet'})"
        )
    warehouse = session.scalar(select(Warehouse).where(Warehouse.code == warehouse_code))
    if warehouse is None:
        raise FbaWarehouseError(f"account {account.label}: warehouse {warehouse_code!r} does not exist")
    if warehouse.kind != WarehouseKind.FBA:
        raise FbaWarehouseError(
            f"account {account.label}: warehouse {warehouse_code!r} is {warehouse.kind}, not an FBA warehouse"
        )
    row = session.scalar(
        select(FbaAccountWarehouse).where(
            FbaAccountWarehouse.account_id == account.id, FbaAccountWarehouse.region == region
        )
    )
    if row is None:
        session.add(FbaAccountWarehouse(account_id=account.id, region=region, warehouse_id=warehouse.id))
    else:
        row.warehouse_id = warehouse.id
    session.flush()
    return FbaMapping(account.label, region, warehouse.code)


def fba_mappings(session: Session) -> list[FbaMapping]:
    """Every account's FBA warehouse per region, by account and region."""
    query = (
        select(SellerAccount, FbaAccountWarehouse.region, Warehouse.code)
        .join(FbaAccountWarehouse, FbaAccountWarehouse.account_id == SellerAccount.id)
        .join(Warehouse, Warehouse.id == FbaAccountWarehouse.warehouse_id)
        .order_by(SellerAccount.selling_partner_id, SellerAccount.region, FbaAccountWarehouse.region)
    )
    return [FbaMapping(account.label, region, code) for account, region, code in session.execute(query)]


def account_warehouse_ids(session: Session, warehouse_id: int) -> set[int]:
    """The accounts whose FBA stock a warehouse holds."""
    query = select(FbaAccountWarehouse.account_id).where(FbaAccountWarehouse.warehouse_id == warehouse_id)
    return set(session.scalars(query))
