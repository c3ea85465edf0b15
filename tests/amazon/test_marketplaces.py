"""The marketplace registry: one table in the product, agreeing with the sandbox's own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import orderbridge
from orderbridge.amazon import marketplaces
from orderbridge.amazon.marketplaces import MARKETPLACES, Region, by_code, by_domain, by_id, code_of
from orderbridge.simulator import marketplaces as sandbox

SOURCE = Path(orderbridge.__file__).parent


def _product_facts() -> set[tuple[str, str, str, str, str, str]]:
    return {
        (m.code, m.marketplace_id, m.country, m.currency, str(m.region), m.domain)
        for m in MARKETPLACES.values()
    }


def _sandbox_facts() -> set[tuple[str, str, str, str, str, str]]:
    served = [
        (m.code, m.marketplace_id, m.country_code, m.currency, m.region, m.name.lower())
        for m in sandbox.MARKETPLACES.values()
    ]
    others = [
        (m.code, m.marketplace_id, m.country_code, m.currency, m.region, m.name.lower())
        for m in sandbox.OTHER_MARKETPLACES
    ]
    assert len(set(served) | set(others)) == len(served) + len(others), "a marketplace listed twice"
    return set(served) | set(others)


def test_the_product_and_the_sandbox_know_the_same_marketplaces_with_the_same_facts() -> None:
    # A marketplace added on one side only, or a fact that differs, shows here by code and id.
    product, simulated = _product_facts(), _sandbox_facts()
    assert sorted(product - simulated) == [], "in the product's table only (or with other facts)"
    assert sorted(simulated - product) == [], "in the sandbox's table only (or with other facts)"


def test_marketplace_ids_are_written_in_one_module_of_the_product() -> None:
    ids = re.compile("|".join(re.escape(m.marketplace_id) for m in MARKETPLACES.values()))
    holders = sorted(
        str(path.relative_to(SOURCE))
        for path in SOURCE.rglob("*")
        if path.is_file()
        and path.suffix in {".py", ".html", ".toml", ".yaml", ".yml", ".md", ".txt", ".css", ".js"}
        and "simulator" not in path.relative_to(SOURCE).parts
        and ids.search(path.read_text(encoding="utf-8"))
    )
    assert holders == [str(Path(marketplaces.__file__).relative_to(SOURCE))]


@pytest.mark.parametrize(
    ("given", "code"), [("UK", "UK"), ("gb", "UK"), (" de ", "DE"), ("ATVPDKIKX0DER", "US")]
)
def test_a_marketplace_is_found_by_its_code_iso_country_or_id(given: str, code: str) -> None:
    found = by_code(given)
    assert found is not None and found.code == code


def test_unknown_marketplaces_are_none_and_keep_their_id_as_code() -> None:
    assert by_code("XX") is None
    assert by_id("A0000000000000") is None
    assert by_id(None) is None
    assert code_of("A0000000000000") == "A0000000000000"
    assert by_domain("Non-Amazon") is None


def test_a_settlement_storefront_name_finds_its_marketplace_and_each_region_its_endpoint() -> None:
    uk = by_domain("Amazon.co.uk")
    assert uk is not None and uk.country == "GB" and uk.region is Region.EU
    assert uk.endpoint == "https://sellingpartnerapi-eu.amazon.com"
    assert {m.endpoint for m in MARKETPLACES.values()} == {
        "https://sellingpartnerapi-na.amazon.com",
        "https://sellingpartnerapi-eu.amazon.com",
        "https://sellingpartnerapi-fe.amazon.com",
    }
