"""Blind indexes: keyed, per seller and marketplace, normalised, gone with the keys (AC-19, C4, C8)."""

from __future__ import annotations

import hashlib
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderbridge.privacy.blind_index import (
    INDEX_BYTES,
    BlindIndexer,
    IndexKind,
    normalise_email,
    normalise_name,
    normalise_phone,
)
from orderbridge.privacy.errors import NothingToIndexError
from orderbridge.privacy.keystore import KeyStore
from tests.privacy.fakes import MARKETPLACE, SELLER, CanaryBuyer


@pytest.fixture
def indexer(keystore: KeyStore) -> BlindIndexer:
    return BlindIndexer(keystore)


def email_index(
    indexer: BlindIndexer, value: str, marketplace: str = MARKETPLACE, seller: str = SELLER
) -> bytes:
    return indexer.index(IndexKind.EMAIL, value, seller=seller, marketplace=marketplace)


def test_ac19_blind_index_is_not_an_unkeyed_hash(indexer: BlindIndexer, canary: CanaryBuyer) -> None:
    index = email_index(indexer, canary.email)

    assert len(index) == INDEX_BYTES
    plain = normalise_email(canary.email).encode()
    assert index not in (hashlib.sha256(plain).digest(), hashlib.sha256(plain).digest()[:INDEX_BYTES])


def test_ac19_index_keys_differ_per_seller_and_marketplace(
    indexer: BlindIndexer, canary: CanaryBuyer
) -> None:
    indexes = {
        email_index(indexer, canary.email),
        email_index(indexer, canary.email, marketplace="ATVPDKIKX0DER"),
        email_index(indexer, canary.email, seller="A2SELLER0002"),
    }
    assert len(indexes) == 3


def test_ac19_index_keys_live_in_the_key_store_not_in_the_index(indexer: BlindIndexer) -> None:
    email_index(indexer, "qz@marketplace.amazon.de")
    assert [k.slot for k in indexer.keys.live_keys(SELLER, MARKETPLACE)] == ["index-1"]


def test_c8_email_matches_whatever_the_case_and_spacing(indexer: BlindIndexer, canary: CanaryBuyer) -> None:
    assert email_index(indexer, f"  {canary.email.upper()} \n") == email_index(indexer, canary.email)


def test_kinds_are_separated(indexer: BlindIndexer) -> None:
    same = "qz"
    name = indexer.index(IndexKind.NAME, same, seller=SELLER, marketplace=MARKETPLACE)
    assert name != email_index(indexer, same)


def test_names_match_after_folding_case_and_whitespace(indexer: BlindIndexer) -> None:
    def name(value: str) -> bytes:
        return indexer.index(IndexKind.NAME, value, seller=SELLER, marketplace=MARKETPLACE)

    assert name("  Jürgen   STRAßE ") == name("jürgen strasse")
    assert name("Jane Doe") != name("Jane Do")


def test_phones_match_on_their_digits() -> None:
    assert normalise_phone("+44 (0)7700-900 123") == "+4407700900123"
    assert normalise_phone("07700 900123") == "07700900123"


@pytest.mark.parametrize(
    "kind, value", [(IndexKind.EMAIL, "  "), (IndexKind.NAME, "\t\n"), (IndexKind.PHONE, "+ -")]
)
def test_empty_values_get_no_index(indexer: BlindIndexer, kind: IndexKind, value: str) -> None:
    with pytest.raises(NothingToIndexError):
        indexer.index(kind, value, seller=SELLER, marketplace=MARKETPLACE)


def test_ac19_c5_match_fails_once_the_sellers_keys_are_destroyed(
    indexer: BlindIndexer, canary: CanaryBuyer
) -> None:
    before = email_index(indexer, canary.email)

    indexer.keys.destroy_seller(SELLER)

    assert email_index(indexer, canary.email) != before


def test_ac20_index_key_rotation_matches_old_and_new_while_reindexing(
    indexer: BlindIndexer, canary: CanaryBuyer
) -> None:
    old = email_index(indexer, canary.email)

    indexer.keys.roll_index_key(SELLER, MARKETPLACE)

    new = email_index(indexer, canary.email)
    assert new != old
    assert indexer.candidates(IndexKind.EMAIL, canary.email, seller=SELLER, marketplace=MARKETPLACE) == [
        new,
        old,
    ]


@given(st.text())
def test_normalising_is_idempotent(value: str) -> None:
    assert normalise_email(normalise_email(value)) == normalise_email(value)
    assert normalise_name(normalise_name(value)) == normalise_name(value)
    assert normalise_phone(normalise_phone(value)) == normalise_phone(value)


def test_epoch_keyed_indexes_match_while_the_epoch_lives(indexer: BlindIndexer, canary: CanaryBuyer) -> None:
    # given the buyer's last order indexed under its epoch key
    epoch = indexer.keys.epoch_key(SELLER, MARKETPLACE, date(2026, 12, 23))
    stored = indexer.index_in_epoch(IndexKind.EMAIL, canary.email, key=epoch)
    other_epoch = indexer.keys.epoch_key(SELLER, MARKETPLACE, date(2026, 12, 24))

    # then a new order finds it among the candidates
    candidates = indexer.epoch_candidates(
        IndexKind.EMAIL, canary.email.upper(), seller=SELLER, marketplace=MARKETPLACE
    )
    assert stored in candidates
    assert indexer.index_in_epoch(IndexKind.EMAIL, canary.email, key=other_epoch) in candidates
    assert indexer.index_in_epoch(IndexKind.EMAIL, canary.email, key=other_epoch) != stored
    assert stored != email_index(indexer, canary.email)

    # when the epoch is swept
    indexer.keys.destroy(epoch.key_id)

    # then nothing can link to the stored value any more, in the book or in an old backup (C5)
    after = indexer.epoch_candidates(IndexKind.EMAIL, canary.email, seller=SELLER, marketplace=MARKETPLACE)
    assert stored not in after
    assert len(after) == 1


def test_ac19_epoch_keyed_indexes_differ_per_seller(indexer: BlindIndexer, canary: CanaryBuyer) -> None:
    mine = indexer.keys.open_key(SELLER, MARKETPLACE)
    theirs = indexer.keys.open_key("A2SELLER0002", MARKETPLACE)
    assert indexer.index_in_epoch(IndexKind.EMAIL, canary.email, key=mine) != indexer.index_in_epoch(
        IndexKind.EMAIL, canary.email, key=theirs
    )
