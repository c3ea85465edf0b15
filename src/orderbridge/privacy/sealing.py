"""Privacy wired into the book: every PII value is sealed before it reaches the store (P2, R7, AC-3, AC-16).

`enable(sessions, privacy)` turns it on for a session or session factory. From then on:
- an ORM ``before_flush`` listener seals the plaintext PII attributes of new and changed records, and
  re-seals a record whose retention epoch moved (an order shipped or cancelled; its notes, custom field
  values and contact follow);
- the book's bulk INSERT path (`book.pii.seal_rows`) seals the value dicts before the INSERT.

A PII column then holds ``ob1:`` + base64 of a vault ciphertext bound to (table, `pii_ref`, field, key id),
or ``[Redacted]``. Keys are per (seller scope, marketplace, retention epoch): the seller scope is the
channel's code, the marketplace the channel's marketplace id; records with no due date yet (and every
record of a non-Amazon channel, P8) use the rolling open key. Reading a value back is `reveal`, which
writes an audit entry (R4, R15, AC-21).

A sealed value read through the ORM carries where it was sealed (`BoundSealed`): copied to another row
or field, sealing opens it there and seals it again for its new place. A sealed value whose origin is
unknown and that does not open in its new place is refused (`MisboundValueError`), never stored where
nobody could read it again.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, event, inspect, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from orderbridge.book import pii
from orderbridge.book.address import Address, read_address
from orderbridge.book.channels import Channel, ChannelKind
from orderbridge.book.contacts import Contact
from orderbridge.book.custom_fields import CustomFieldDefinition, CustomFieldValue, RecordKind
from orderbridge.book.orders.model import OrderNote, SalesOrder
from orderbridge.clock import Clock, as_utc
from orderbridge.privacy import audit
from orderbridge.privacy.blind_index import BlindIndexer, IndexKind
from orderbridge.privacy.bulk_reads import DEFAULT_POLICY, BulkReadPolicy, check_bulk_reads
from orderbridge.privacy.errors import (
    DecryptionError,
    KeyDestroyedError,
    MisboundValueError,
    NothingToIndexError,
)
from orderbridge.privacy.keystore import DataKey, KeyId, KeyStore
from orderbridge.privacy.models import AuditAction
from orderbridge.privacy.retention_clock import FulfilmentFacts, retention_due, retention_period
from orderbridge.privacy.tables import registered_pii_tables
from orderbridge.privacy.vault import FieldRef, Vault, record_part

SEALED_PREFIX = "ob1:"
LOCAL_SCOPE = "book"
LOCAL_MARKETPLACE = "local"
_INFO_KEY = "orderbridge.privacy"
_BAD_NAME = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass
class Privacy:
    """What sealing needs: the key store (and its vault and blind indexer) and the retention period."""

    keys: KeyStore
    retention_days: int = 30
    vault: Vault = field(init=False)
    indexer: BlindIndexer = field(init=False)
    period: timedelta = field(init=False)

    def __post_init__(self) -> None:
        self.vault = Vault(self.keys)
        self.indexer = BlindIndexer(self.keys)
        self.period = retention_period(self.retention_days)


@dataclass(frozen=True)
class KeyChoice:
    """Which key a record is sealed under: its scope and its due time (None: the open key)."""

    seller: str
    marketplace: str
    due: datetime | None


# -- turning it on -------------------------------------------------------------------------------


def enable(target: Session | sessionmaker[Session], privacy: Privacy) -> None:
    """Seal every PII value written through `target` (a session or a session factory)."""
    _install_listeners()
    if isinstance(target, sessionmaker):
        info = dict(target.kw.get("info") or {})
        info[_INFO_KEY] = privacy
        target.configure(info=info)
    else:
        target.info[_INFO_KEY] = privacy


def privacy_of(session: Session) -> Privacy | None:
    found = session.info.get(_INFO_KEY)
    return found if isinstance(found, Privacy) else None


def _install_listeners() -> None:
    if not event.contains(Session, "before_flush", _before_flush):
        event.listen(Session, "before_flush", _before_flush)
    if not event.contains(pii.PIIRecordColumns, "load", _remember_origin):
        event.listen(pii.PIIRecordColumns, "load", _remember_origin, propagate=True)
        event.listen(pii.PIIRecordColumns, "refresh", _remember_refreshed, propagate=True)
    pii.register_sealer(_seal_bulk)


# -- where a sealed value was sealed -------------------------------------------------------------


class BoundSealed(str):
    """Sealed text as read from its row, remembering where it was sealed (table, record id, field).

    Assigned to another row or field (a repeat buyer's address copied from the contact to the order),
    sealing opens it at `origin` and seals it again for its new place.
    """

    origin: FieldRef


def bound(value: str, origin: FieldRef) -> BoundSealed:
    found = BoundSealed(value)
    found.origin = origin
    return found


def origin_of(value: str) -> FieldRef | None:
    return value.origin if isinstance(value, BoundSealed) else None


def _remember_origin(record: Any, _context: object) -> None:
    loaded = record.__dict__
    ref = loaded.get("pii_ref")
    if ref is None:
        return
    table = _table(record).name
    for name in pii.pii_fields(_table(record)):
        value = loaded.get(name)
        if value is not None and value.startswith(SEALED_PREFIX) and not isinstance(value, BoundSealed):
            set_committed_value(record, name, bound(value, FieldRef(table, ref, name)))


def _remember_refreshed(record: Any, context: object, _attrs: object) -> None:
    _remember_origin(record, context)


def _place_value(privacy: Privacy, value: str, at: FieldRef, key: DataKey) -> str:
    """A sealed value put at `at`: as it is when sealed there, else opened where it was sealed and sealed
    again for `at` under `key`. Raises MisboundValueError when it opens neither here nor at a known origin."""
    origin = origin_of(value)
    if origin is not None and origin != at:
        plain = open_sealed(privacy, value, table=origin.table, ref=str(origin.record_id), name=origin.field)
        if plain is None or plain == pii.REDACTED:
            return pii.REDACTED
        return seal(privacy, plain, table=at.table, ref=str(at.record_id), name=at.field, key=key)
    if origin is None:
        try:
            open_sealed(privacy, value, table=at.table, ref=str(at.record_id), name=at.field)
        except DecryptionError:
            raise MisboundValueError(
                f"{at.table} {at.field}: a sealed value from another row was put here; copy buyer data "
                "through the vault (opened where it was sealed), never as sealed text"
            ) from None
    return value


def open_address(session: Session, record: Any, prefix: str) -> Address:
    """A record's address as plaintext, to copy to another record (which seals it for itself).

    Not a read by a person, so not audited: the value goes from one sealed row to another.
    """
    address = read_address(record, prefix)
    privacy = privacy_of(session)
    if privacy is None:
        return address
    table = _table(record).name
    opened = {
        name: open_sealed(privacy, value, table=table, ref=str(record.pii_ref), name=f"{prefix}_{name}")
        if isinstance(value, str)
        else value
        for name, value in vars(address).items()
    }
    return Address(**opened)


# -- the sealed text -----------------------------------------------------------------------------


def is_sealed(value: str | None) -> bool:
    return value is not None and value.startswith(SEALED_PREFIX)


def is_plaintext(value: str | None) -> bool:
    """A value that still needs sealing: neither empty, sealed nor redacted."""
    return value is not None and value != pii.REDACTED and not value.startswith(SEALED_PREFIX)


def seal(privacy: Privacy, value: str, *, table: str, ref: str, name: str, key: DataKey) -> str:
    at = FieldRef(table, ref, name)
    blob = privacy.vault.encrypt(value, at=at, key=key)
    return bound(SEALED_PREFIX + base64.b64encode(blob).decode("ascii"), at)


def batch_sealer(privacy: Privacy) -> Callable[[str, str, str, str, DataKey], str]:
    """`seal` for a burst of values (the bulk INSERT paths): the same sealed text, set up once per key."""
    encrypt = privacy.vault.field_sealer()

    def seal_value(value: str, table: str, ref: str, name: str, key: DataKey) -> str:
        blob = encrypt(value, table, ref, name, key)
        return SEALED_PREFIX + binascii.b2a_base64(blob, newline=False).decode("ascii")

    return seal_value


def batch_opener(privacy: Privacy) -> Callable[[str | None, str, str, str], str | None]:
    """`open_sealed(privacy, value, table=, ref=, name=)` for a burst of values (a batch of the inbox):
    the same results and errors, each key fetched and set up once (`Vault.table_opener`)."""
    openers: dict[str, Callable[[bytes, bytes, str], str]] = {}

    def open_value(value: str | None, table: str, ref: str, name: str) -> str | None:
        if value is None or not value.startswith(SEALED_PREFIX):
            return value
        try:
            blob = binascii.a2b_base64(value[len(SEALED_PREFIX) :], strict_mode=True)
        except binascii.Error:
            raise DecryptionError(f"vault: {table} {ref} {name}: sealed text is damaged") from None
        try:
            fast = openers.get(table)
            if fast is None:
                fast = openers[table] = privacy.vault.table_opener(table)
            return fast(blob, record_part(ref), name)
        except KeyDestroyedError:
            return pii.REDACTED

    return open_value


def open_sealed(
    privacy: Privacy,
    value: str | None,
    *,
    table: str,
    ref: str,
    name: str,
    opener: Callable[[bytes, FieldRef], str] | None = None,
) -> str | None:
    """The plaintext of a stored value; `[Redacted]` once redacted or its key destroyed.

    Raises DecryptionError for a value moved from another row or field or altered (AC-16).
    """
    if value is None or not value.startswith(SEALED_PREFIX):
        return value
    try:
        blob = base64.b64decode(value[len(SEALED_PREFIX) :], validate=True)
    except binascii.Error:
        raise DecryptionError(f"vault: {table} {ref} {name}: sealed text is damaged") from None
    try:
        if opener is not None:
            return opener(blob, FieldRef(table, ref, name))
        return privacy.vault.decrypt(blob, at=FieldRef(table, ref, name))
    except KeyDestroyedError:
        return pii.REDACTED


# -- which key -----------------------------------------------------------------------------------


def scope_name(code: str) -> str:
    """A channel code as a key-store name (letters, digits, _ . -; at most 64)."""
    name = _BAD_NAME.sub("_", code)[:64]
    return name if name[:1].isalnum() else ("c" + name)[:64]


@dataclass(frozen=True)
class OrderClock:
    """The facts an order's retention clock starts from (P1, O24): the book's shipment (in full) and
    cancellation, and what the channel reports of its own."""

    shipped_at: datetime | None = None
    cancelled_at: datetime | None = None
    channel_shipped_at: datetime | None = None
    channel_cancelled_at: datetime | None = None

    @classmethod
    def of(cls, order: Any) -> OrderClock:
        """From a SalesOrder or a row with its four columns."""
        return cls(order.shipped_at, order.cancelled_at, order.channel_shipped_at, order.channel_cancelled_at)


CLOCK_COLUMNS = ("shipped_at", "cancelled_at", "channel_shipped_at", "channel_cancelled_at")


def order_due(clock: OrderClock, period: timedelta) -> datetime | None:
    """P1: the first of the book's anchor (shipped in full, or cancelled) and the channel's shipment or
    cancellation, plus the retention period; None while there is none."""
    facts = FulfilmentFacts(
        shipped_at=(as_utc(clock.shipped_at),) if clock.shipped_at is not None else (),
        cancelled_at=as_utc(clock.cancelled_at) if clock.cancelled_at is not None else None,
        fully_shipped=clock.shipped_at is not None,
    )
    dues = [retention_due(facts, period)] + [
        as_utc(moment) + period
        for moment in (clock.channel_shipped_at, clock.channel_cancelled_at)
        if moment is not None
    ]
    found = [due for due in dues if due is not None]
    return min(found) if found else None


def _channel(session: Session, channel_id: int | None) -> Channel | None:
    if channel_id is None:
        return None
    with session.no_autoflush:
        return session.get(Channel, channel_id)


def _channel_scope(channel: Channel | None) -> tuple[str, str, bool]:
    if channel is None:
        return LOCAL_SCOPE, LOCAL_MARKETPLACE, False
    amazon = channel.kind == ChannelKind.AMAZON and bool(channel.marketplace_id)
    marketplace = (
        scope_name(channel.marketplace_id) if amazon and channel.marketplace_id else LOCAL_MARKETPLACE
    )
    return scope_name(channel.code), marketplace, amazon


def order_choice(privacy: Privacy, session: Session, channel_id: int | None, clock: OrderClock) -> KeyChoice:
    seller, marketplace, amazon = _channel_scope(_channel(session, channel_id))
    due = order_due(clock, privacy.period) if amazon else None  # P8
    return KeyChoice(seller, marketplace, due)


def contact_choice(privacy: Privacy, session: Session, contact: Contact) -> KeyChoice:
    """A contact follows its Amazon orders: due with the last one, open while any is open (P1)."""
    seller, marketplace = _contact_scope(session, contact.marketplace_id, contact.origin_channel_id)
    if contact.marketplace_id is None or contact.id is None:
        return KeyChoice(seller, marketplace, None)
    pending = {
        order.id: order
        for order in (*session.new, *session.dirty)
        if isinstance(order, SalesOrder) and order.contact_id == contact.id and order.id is not None
    }
    with session.no_autoflush:
        stored = session.execute(
            select(SalesOrder.id, *(getattr(SalesOrder, name) for name in CLOCK_COLUMNS))
            .join(Channel, Channel.id == SalesOrder.channel_id)
            .where(SalesOrder.contact_id == contact.id, Channel.kind == ChannelKind.AMAZON)
        ).all()
    dues = []
    for row in stored:
        held = pending.get(row.id)
        dues.append(order_due(OrderClock.of(held if held is not None else row), privacy.period))
    if not dues or any(due is None for due in dues):
        return KeyChoice(seller, marketplace, None)
    return KeyChoice(seller, marketplace, max(due for due in dues if due is not None))


def _contact_scope(session: Session, marketplace_id: str | None, channel_id: int | None) -> tuple[str, str]:
    """(seller, marketplace) of a contact's keys: its channel and marketplace, or the local scope."""
    if marketplace_id is None:
        return LOCAL_SCOPE, LOCAL_MARKETPLACE
    channel = _channel(session, channel_id)
    return (scope_name(channel.code) if channel is not None else "amazon"), scope_name(marketplace_id)


def key_for(privacy: Privacy, choice: KeyChoice) -> DataKey:
    """The data key of a choice; an epoch already swept falls back to the open key (the sweep redacts)."""
    try:
        return privacy.keys.key_for(choice.seller, choice.marketplace, choice.due)
    except KeyDestroyedError:
        return privacy.keys.open_key(choice.seller, choice.marketplace)


def record_key(privacy: Privacy, session: Session, record: Any) -> DataKey:
    """The key a record should be sealed under now (its order's or contact's retention epoch)."""
    if isinstance(record, SalesOrder):
        return key_for(privacy, order_choice(privacy, session, record.channel_id, OrderClock.of(record)))
    if isinstance(record, Contact):
        return key_for(privacy, contact_choice(privacy, session, record))
    if isinstance(record, OrderNote):
        return _owner_key(privacy, session, _note_order(session, record))
    if isinstance(record, CustomFieldValue):
        return _owner_key(privacy, session, _value_owner(session, record))
    return privacy.keys.open_key(LOCAL_SCOPE, LOCAL_MARKETPLACE)


def _owner_key(privacy: Privacy, session: Session, owner: SalesOrder | Contact | None) -> DataKey:
    if owner is None:
        return privacy.keys.open_key(LOCAL_SCOPE, LOCAL_MARKETPLACE)
    if owner.pii_key is not None:
        try:
            return privacy.keys.get(KeyId.parse(owner.pii_key))
        except KeyDestroyedError:
            pass
    return record_key(privacy, session, owner)


def _note_order(session: Session, note: OrderNote) -> SalesOrder | None:
    if note.order_id is not None:
        with session.no_autoflush:
            return session.get(SalesOrder, note.order_id)
    for candidate in (*session.new, *session.dirty):  # appended to an order's notes, not flushed yet
        if (
            isinstance(candidate, SalesOrder)
            and "notes" in inspect(candidate).dict
            and note in candidate.notes
        ):
            return candidate
    return None


def _value_owner(session: Session, value: CustomFieldValue) -> SalesOrder | Contact | None:
    with session.no_autoflush:
        definition = session.get(CustomFieldDefinition, value.definition_id)
        if definition is None:
            return None
        if definition.record_kind == RecordKind.SALES_ORDER:
            return session.get(SalesOrder, value.record_id)
        if definition.record_kind == RecordKind.CONTACT:
            return session.get(Contact, value.record_id)
    return None


# -- sealing records -----------------------------------------------------------------------------


def _table(record: Any) -> Table:
    table: Table = type(record).__table__
    return table


def seal_record(
    privacy: Privacy, session: Session, record: Any, *, rekey: bool = False, key: DataKey | None = None
) -> bool:
    """Seal a record's plaintext PII; with `rekey`, move it under the key it should be under now (or `key`).

    Returns whether anything changed.
    """
    table = _table(record)
    names = pii.pii_fields(table)
    if record.pii_redacted_at is not None:
        return False
    if record.pii_ref is None:
        record.pii_ref = pii.new_pii_ref()
    values = {name: getattr(record, name) for name in names}
    plaintext = any(is_plaintext(value) for value in values.values())
    placed = _placed_values(privacy, session, record, values)
    if placed:
        values.update(placed)
        for name, value in placed.items():
            setattr(record, name, value)
    if record.pii_key is not None and not rekey and not plaintext:
        return bool(placed)
    if key is None and (rekey or record.pii_key is None):
        key = record_key(privacy, session, record)
    if key is None:
        try:
            key = privacy.keys.get(KeyId.parse(record.pii_key))
        except KeyDestroyedError:
            key = record_key(privacy, session, record)
    if str(key.key_id) == record.pii_key and not plaintext:
        return bool(placed)
    for name, value in values.items():
        if value is None or value == pii.REDACTED or (is_sealed(value) and str(key.key_id) == record.pii_key):
            continue
        plain = open_sealed(privacy, value, table=table.name, ref=record.pii_ref, name=name)
        if plain is None or plain == pii.REDACTED:
            setattr(record, name, plain)
            continue
        setattr(record, name, seal(privacy, plain, table=table.name, ref=record.pii_ref, name=name, key=key))
    record.pii_key = str(key.key_id)
    return True


def _placed_values(
    privacy: Privacy, session: Session, record: Any, values: dict[str, str | None]
) -> dict[str, str]:
    """Sealed values newly put on `record` that were sealed elsewhere, sealed again for this record."""
    state = inspect(record)
    table = _table(record).name
    moved: dict[str, str] = {}
    key: DataKey | None = None
    for name, value in values.items():
        if not is_sealed(value):
            continue
        assert value is not None
        at = FieldRef(table, record.pii_ref, name)
        origin = origin_of(value)
        if origin == at or (origin is None and not state.attrs[name].history.added):
            continue
        if key is None:
            key = _current_key(privacy, session, record)
        placed = _place_value(privacy, value, at, key)
        if placed is not value:
            moved[name] = placed
    return moved


def _current_key(privacy: Privacy, session: Session, record: Any) -> DataKey:
    if record.pii_key is not None:
        try:
            return privacy.keys.get(KeyId.parse(record.pii_key))
        except KeyDestroyedError:
            pass
    return record_key(privacy, session, record)


def _fill_email_key(privacy: Privacy, session: Session, contact: Contact) -> None:
    """C4/C8: a new Amazon contact's e-mail gets its keyed blind index (never a plain hash, AC-19)."""
    if contact.email_key is not None or contact.marketplace_id is None or not is_plaintext(contact.email):
        return
    assert contact.email is not None
    choice = contact_choice(privacy, session, contact)
    try:
        contact.email_key = email_key(
            privacy, contact.email, seller=choice.seller, marketplace=choice.marketplace
        )
    except NothingToIndexError:
        contact.email_key = None


_NAME_PARTS = ("first_name", "last_name", "company_name")


def contact_name(first: str | None, last: str | None, company: str | None) -> str | None:
    """The name a contact is searched by: the person's, else the company's (None if neither)."""
    person = " ".join(part for part in (first, last) if part and part != pii.REDACTED)
    return person or (company if company and company != pii.REDACTED else None)


def name_key(privacy: Privacy, name: str | None, *, seller: str, marketplace: str) -> str | None:
    """The search key of a contact name, as stored in `Contact.name_key` (None when nothing to index).

    The bulk contact path fills it with this too: `name_key(privacy, contact_name(...), ...)`.
    """
    if name is None:
        return None
    try:
        return privacy.indexer.index(IndexKind.NAME, name, seller=seller, marketplace=marketplace).hex()
    except NothingToIndexError:
        return None


def _fill_name_key(privacy: Privacy, session: Session, contact: Contact) -> None:
    """Search by name while PII is live: a keyed blind index of the normalised name, never plaintext."""
    if contact.pii_redacted_at is not None:
        return
    state = inspect(contact)
    changed = any(state.attrs[name].history.has_changes() for name in _NAME_PARTS)
    if contact.id is not None and contact.name_key is not None and not changed:
        return
    parts = [
        open_sealed(privacy, getattr(contact, name), table="contacts", ref=str(contact.pii_ref), name=name)
        for name in _NAME_PARTS
    ]
    choice = contact_choice(privacy, session, contact)
    contact.name_key = name_key(
        privacy, contact_name(*parts), seller=choice.seller, marketplace=choice.marketplace
    )


def email_key(privacy: Privacy, email: str, *, seller: str, marketplace: str) -> str:
    """The matching key of an e-mail, as stored in `Contact.email_key`."""
    return privacy.indexer.index(IndexKind.EMAIL, email, seller=seller, marketplace=marketplace).hex()


def _anchor_moved(order: SalesOrder) -> bool:
    state = inspect(order)
    return any(state.attrs[name].history.has_changes() for name in (*CLOCK_COLUMNS, "channel_id"))


def _before_flush(session: Session, _context: object, _instances: object) -> None:
    privacy = privacy_of(session)
    if privacy is None:
        return
    with session.no_autoflush:
        _seal_pending(privacy, session)


def _seal_pending(privacy: Privacy, session: Session) -> None:
    new = [record for record in session.new if isinstance(record, pii.PIIRecordColumns)]
    dirty = [record for record in session.dirty if isinstance(record, pii.PIIRecordColumns)]
    for record in new:
        if isinstance(record, Contact):
            _fill_email_key(privacy, session, record)
    for record in (*new, *dirty):
        if isinstance(record, Contact):
            _fill_name_key(privacy, session, record)
    # Orders first: their notes and values take the order's key.
    ordered = sorted((*new, *dirty), key=lambda r: 0 if isinstance(r, SalesOrder | Contact) else 1)
    moved: list[SalesOrder] = []
    for record in ordered:
        anchored = isinstance(record, SalesOrder) and record.id is not None and _anchor_moved(record)
        seal_record(privacy, session, record, rekey=anchored)
        if anchored:
            assert isinstance(record, SalesOrder)
            moved.append(record)
    for order in moved:
        follow_order(privacy, session, order)


def follow_order(privacy: Privacy, session: Session, order: SalesOrder) -> None:
    """An order's notes, custom field values and contact follow its key (§3.4: re-key on anchor)."""
    for note in order.notes:
        seal_record(privacy, session, note, rekey=True)
    for value in _order_values(session, [order.id]):
        seal_record(privacy, session, value, rekey=True)
    contact = session.get(Contact, order.contact_id)
    if contact is not None and contact.pii_redacted_at is None:
        seal_record(privacy, session, contact, rekey=True)


def _order_values(session: Session, order_ids: Iterable[int]) -> list[CustomFieldValue]:
    return list(
        session.scalars(
            select(CustomFieldValue)
            .join(CustomFieldDefinition, CustomFieldDefinition.id == CustomFieldValue.definition_id)
            .where(
                CustomFieldDefinition.record_kind == RecordKind.SALES_ORDER,
                CustomFieldValue.record_id.in_(list(order_ids)),
            )
        )
    )


# -- the bulk path -------------------------------------------------------------------------------


def _seal_bulk(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    privacy = privacy_of(session)
    if privacy is None or not rows:
        return
    names = pii.pii_fields(table)
    registered = any(entry.model.__tablename__ == table.name for entry in registered_pii_tables())
    keys: dict[Any, DataKey] = {}
    owner_keys: dict[int, str | None] = {}
    if table.name == Contact.__tablename__:
        _seal_new_contacts(privacy, session, rows)
        return
    if table.name == OrderNote.__tablename__:
        order_ids = {row["order_id"] for row in rows}
        query = select(SalesOrder.id, SalesOrder.pii_key).where(SalesOrder.id.in_(order_ids))
        owner_keys = {order_id: key_id for order_id, key_id in session.execute(query)}
    is_orders = table.name == SalesOrder.__tablename__
    if is_orders:
        _reopen_contacts(
            privacy, session, [row for row in rows if not (row.get("shipped_at") or row.get("cancelled_at"))]
        )
    seal_value = batch_sealer(privacy)
    table_name = table.name
    redacted = pii.REDACTED
    for row in rows:
        if is_orders:
            # A page's orders share a few channels and (while new) no shipped or cancelled time.
            clock = OrderClock(*(row.get(name) for name in CLOCK_COLUMNS))
            cache_key: Any = (row.get("channel_id"), clock)
            if cache_key not in keys:
                keys[cache_key] = key_for(
                    privacy, order_choice(privacy, session, row.get("channel_id"), clock)
                )
        elif registered and row.get("marketplace_id"):
            # Another package's Amazon data (the inbox): an open key of an Amazon scope, which the sweep
            # rolls and destroys once the rows it seals are redacted (never the local open key, P5).
            cache_key = ("registered", row["marketplace_id"])
            if cache_key not in keys:
                keys[cache_key] = privacy.keys.open_key(
                    scope_name(table.name), scope_name(row["marketplace_id"])
                )
        else:
            owner = owner_keys.get(row.get("order_id", -1))
            cache_key = owner
            if owner not in keys:
                keys[owner] = _key_by_id(privacy, owner)
        key = keys[cache_key]
        ref = row["pii_ref"]
        for name in names:
            value = row.get(name)
            # is_plaintext(value), inline: a page of orders has a dozen PII fields each
            if value is None or value == redacted:
                continue
            if value.startswith(SEALED_PREFIX):
                row[name] = _place_value(privacy, value, FieldRef(table_name, ref, name), key)
            else:
                row[name] = seal_value(value, table_name, ref, name, key)
        row["pii_key"] = str(key.key_id)


def _seal_new_contacts(privacy: Privacy, session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """New contacts inserted in bulk, as the flush listener seals a new one: an Amazon buyer's e-mail gets
    its blind index (C4, C8), its name the search index (found from the moment it is booked), and the
    PII is sealed under the open key of the contact's channel and marketplace (no order of it is due
    yet, P1); any other contact under the local key (P8)."""
    names = pii.pii_fields(Contact.__table__)
    keys: dict[KeyChoice, DataKey] = {}
    scopes: dict[tuple[str | None, int | None], tuple[str, str]] = {}
    seal_value = batch_sealer(privacy)
    for row in rows:
        marketplace_id = row.get("marketplace_id")
        where = (marketplace_id, row.get("origin_channel_id"))
        scope = scopes.get(where)
        if scope is None:
            scope = scopes[where] = _contact_scope(session, *where)
        seller, marketplace = scope
        choice = KeyChoice(seller, marketplace, None)
        plain_email = row.get("email")
        if row.get("email_key") is None and marketplace_id is not None and is_plaintext(plain_email):
            assert plain_email is not None
            try:
                row["email_key"] = email_key(privacy, plain_email, seller=seller, marketplace=marketplace)
            except NothingToIndexError:
                row["email_key"] = None
        if row.get("name_key") is None and marketplace_id is not None:
            parts = (row.get(part) for part in _NAME_PARTS)
            plain = [part if is_plaintext(part) else None for part in parts]
            row["name_key"] = name_key(privacy, contact_name(*plain), seller=seller, marketplace=marketplace)
        if choice not in keys:
            keys[choice] = key_for(privacy, choice)
        key = keys[choice]
        ref = row["pii_ref"]
        for name in names:
            value = row.get(name)
            if value is None or value == pii.REDACTED:
                continue
            if is_sealed(value):
                row[name] = _place_value(privacy, value, FieldRef(Contact.__tablename__, ref, name), key)
            else:
                row[name] = seal_value(value, Contact.__tablename__, ref, name, key)
        row["pii_key"] = str(key.key_id)


def _reopen_contacts(privacy: Privacy, session: Session, open_orders: Sequence[dict[str, Any]]) -> None:
    """A new open Amazon order puts its contact back under the open key (due again only with it, P1)."""
    contact_ids = {row["contact_id"] for row in open_orders if row.get("contact_id")}
    if not contact_ids:
        return
    channels = {row.get("channel_id") for row in open_orders}
    amazon_channels = {c for c in channels if _channel_scope(_channel(session, c))[2]}
    amazon = {row["contact_id"] for row in open_orders if row.get("channel_id") in amazon_channels}
    query = select(Contact).where(
        Contact.id.in_(contact_ids & amazon),
        Contact.marketplace_id.is_not(None),
        Contact.pii_redacted_at.is_(None),
        Contact.pii_key.is_not(None),
        Contact.pii_key.not_like("%/open-%"),
    )
    for contact in session.scalars(query):
        choice = contact_choice(privacy, session, contact)
        seal_record(
            privacy,
            session,
            contact,
            rekey=True,
            key=privacy.keys.open_key(choice.seller, choice.marketplace),
        )


def _key_by_id(privacy: Privacy, key_id: str | None) -> DataKey:
    if key_id is not None:
        try:
            return privacy.keys.get(KeyId.parse(key_id))
        except KeyDestroyedError:
            pass
    return privacy.keys.open_key(LOCAL_SCOPE, LOCAL_MARKETPLACE)


# -- reading -------------------------------------------------------------------------------------


def reveal(
    session: Session,
    record: Any,
    fields: Sequence[str],
    *,
    actor: str,
    purpose: str,
    clock: Clock,
    channel: str = "cli",
    bulk_reads: BulkReadPolicy = DEFAULT_POLICY,
) -> dict[str, str | None]:
    """The plaintext of a record's PII fields, for a caller allowed to see PII; audited (R4, R15, AC-21).

    Too many reads by one caller in a window raise the bulk-read alert (an incident, AC-22).
    """
    privacy = privacy_of(session)
    table = _table(record)
    allowed = set(pii.pii_fields(table))
    unknown = [name for name in fields if name not in allowed]
    if unknown:
        raise DecryptionError(f"reveal: {table.name} has no PII field {', '.join(unknown)}")
    found: dict[str, str | None] = {}
    for name in fields:
        value = getattr(record, name)
        if privacy is None or not is_sealed(value):
            found[name] = value if not is_sealed(value) else pii.REDACTED
        else:
            found[name] = open_sealed(privacy, value, table=table.name, ref=record.pii_ref, name=name)
    kind = "order" if isinstance(record, SalesOrder) else table.name.rstrip("s")
    audit.append(
        session,
        actor=actor,
        action=AuditAction.PII_READ,
        subjects=[f"{kind}:{record.id if hasattr(record, 'id') else record.pii_ref}"],
        detail={"fields": ",".join(fields), "purpose": purpose, "channel": channel, "outcome": "ok"},
        clock=clock,
    )
    check_bulk_reads(session, actor, clock=clock, policy=bulk_reads)
    return found
