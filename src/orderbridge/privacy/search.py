"""Search by name or e-mail while buyer data is live, through blind indexes only (issue 3 §2, P7, DPP §3.5).

No plaintext name column, index, FTS table or cache exists: `Contact.name_key` holds a keyed HMAC of the
normalised name, and a search computes the same HMAC of the query under every live index key. Exact
match on the whole normalised name only (case, accents in compatibility form and spacing folded); no
prefix or LIKE search, by design of blind indexes. After redaction the key is gone and nothing is found.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.book.contacts import Contact
from orderbridge.privacy.blind_index import IndexKind, normalise_email, normalise_name
from orderbridge.privacy.errors import PrivacyError
from orderbridge.privacy.keystore import KeyKind
from orderbridge.privacy.sealing import (
    Privacy,
    contact_choice,
    contact_name,
    name_key,
    open_sealed,
    privacy_of,
)

MAX_RESULTS = 200


def name_candidates(privacy: Privacy, name: str, *, kind: IndexKind = IndexKind.NAME) -> list[str]:
    """The stored form of `name` (or an e-mail, by `kind`) under every live index key of every seller and
    marketplace."""
    scopes = sorted({(k.seller, k.marketplace) for k in privacy.keys.live_keys() if k.kind is KeyKind.INDEX})
    found: list[str] = []
    for seller, marketplace in scopes:
        digests = privacy.indexer.candidates(kind, name, seller=seller, marketplace=marketplace)
        found.extend(digest.hex() for digest in digests)
    return found


def find_contacts_by_name(session: Session, name: str, *, limit: int = MAX_RESULTS) -> list[Contact]:
    """Contacts whose live name is `name` (exact after normalising); redacted contacts never match.

    The contacts come back sealed: showing their PII goes through `sealing.reveal` (audited).
    """
    privacy = privacy_of(session)
    if privacy is None:
        raise PrivacyError("search by name: privacy is not enabled on this session")
    if not normalise_name(name):
        return []
    keys = name_candidates(privacy, name)
    if not keys:
        return []
    query = (
        select(Contact)
        .where(Contact.name_key.in_(keys), Contact.pii_redacted_at.is_(None))
        .order_by(Contact.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def find_contacts_by_email(session: Session, email: str, *, limit: int = MAX_RESULTS) -> list[Contact]:
    """Contacts whose live e-mail is `email` (trimmed, case folded; C8); redacted contacts never match."""
    privacy = privacy_of(session)
    if privacy is None:
        raise PrivacyError("search by e-mail: privacy is not enabled on this session")
    if not normalise_email(email):
        return []
    keys = name_candidates(privacy, email, kind=IndexKind.EMAIL)
    if not keys:
        return []
    query = (
        select(Contact)
        .where(Contact.email_key.in_(keys), Contact.pii_redacted_at.is_(None))
        .order_by(Contact.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def index_missing_names(sessions: sessionmaker[Session], privacy: Privacy, *, batch_size: int = 1000) -> int:
    """Give every live named contact without a name key one (rows written by a path that did not).

    The sweep runs this first, so search by name finds contacts whatever wrote them. Returns how many.
    """
    filled, last = 0, 0
    parts = ("first_name", "last_name", "company_name")
    while True:
        with sessions.begin() as session:
            contacts = list(
                session.scalars(
                    select(Contact)
                    .where(
                        Contact.id > last,
                        Contact.name_key.is_(None),
                        Contact.pii_redacted_at.is_(None),
                        or_(*(getattr(Contact, part).is_not(None) for part in parts)),
                    )
                    .order_by(Contact.id)
                    .limit(batch_size)
                )
            )
            if not contacts:
                return filled
            for contact in contacts:
                name = contact_name(
                    *(
                        open_sealed(
                            privacy, getattr(contact, part), table="contacts", ref=contact.pii_ref, name=part
                        )
                        for part in parts
                    )
                )
                choice = contact_choice(privacy, session, contact)
                contact.name_key = name_key(
                    privacy, name, seller=choice.seller, marketplace=choice.marketplace
                )
                filled += contact.name_key is not None
            last = contacts[-1].id
