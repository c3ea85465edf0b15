"""The canary scanner finds a buyer's values in every form a store could hold them (DPP §3.11)."""

from __future__ import annotations

import base64
import json
import secrets
import urllib.parse
from pathlib import Path

import pytest

from orderbridge.privacy.canary import _CHUNK, files_under, forms, make_canary_buyer, scan


@pytest.mark.parametrize(
    "encode, form",
    [
        (lambda v: v.encode(), "utf-8"),
        (lambda v: v.lower().encode(), "lower-cased utf-8"),
        (lambda v: v.encode("utf-16-le"), "utf-16"),
        (lambda v: json.dumps({"BuyerName": v}).encode(), "json"),
        (lambda v: urllib.parse.quote_plus(v).encode(), "url-encoded"),
        (lambda v: base64.b64encode(v.encode()), "base64+0"),
        (lambda v: base64.b64encode(b"x" + v.encode()), "base64+1"),
        (lambda v: base64.b64encode(b"xy" + v.encode() + b"tail"), "base64+2"),
    ],
)
def test_every_form_is_found(tmp_path: Path, encode: object, form: str) -> None:
    buyer = make_canary_buyer()
    path = tmp_path / "store.bin"
    path.write_bytes(secrets.token_bytes(100) + encode(buyer.name) + secrets.token_bytes(100))  # type: ignore[operator]

    findings = scan([path], buyer)

    assert any(f.field == "name" and f.form == form for f in findings), findings


def test_non_ascii_values_are_found_json_escaped(tmp_path: Path) -> None:
    buyer = make_canary_buyer()
    buyer = type(buyer)(**{**buyer.values, "name": f"Jürgen {buyer.name}"})
    (tmp_path / "payload.json").write_text(json.dumps({"name": buyer.name}))

    (finding,) = [f for f in scan(files_under(tmp_path), buyer) if f.form == "json"]
    assert finding.field == "name"


def test_a_value_across_a_chunk_boundary_is_found(tmp_path: Path) -> None:
    buyer = make_canary_buyer()
    needle = buyer.email.encode()
    path = tmp_path / "big.db"
    path.write_bytes(b"\0" * (_CHUNK - 5) + needle + b"\0" * 10)

    findings = scan([path], buyer)

    assert [(f.field, f.form, f.offset) for f in findings if f.form == "utf-8"] == [
        ("email", "utf-8", _CHUNK - 5)
    ]


def test_clean_and_vanished_files_give_no_findings(tmp_path: Path) -> None:
    buyer = make_canary_buyer()
    clean = tmp_path / "clean.log"
    clean.write_text("order 202-1234567-7654321 booked for [masked]\n" * 1000)

    assert scan([clean, tmp_path / "gone.db-wal"], buyer) == []


def test_every_field_of_a_canary_has_long_enough_forms() -> None:
    buyer = make_canary_buyer()
    for value in buyer.values.values():
        assert {"utf-8", "utf-16", "base64+0", "base64+1", "base64+2"} <= set(forms(value))
    assert len(set(buyer.values.values())) == 6
    assert make_canary_buyer() != buyer


def test_files_under_takes_files_and_directories(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.db").write_bytes(b"x")
    (tmp_path / "y.log").write_bytes(b"y")

    assert [p.name for p in files_under(tmp_path / "a", tmp_path / "y.log", tmp_path / "missing")] == [
        "x.db",
        "y.log",
    ]
