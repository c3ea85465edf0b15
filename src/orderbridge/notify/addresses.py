"""E-mail addresses: the checks every recipient passes, including C12 (no Amazon-generated addresses)."""

from __future__ import annotations

import re
from email.errors import HeaderParseError
from email.headerregistry import Address

from orderbridge.errors import OrderbridgeError

# C12: Amazon's relay addresses (buyer@marketplace.amazon.com, .co.uk, .de ...) reach the buyer through
# Seller Central's messaging; the book never writes to them.
_AMAZON_RELAY = re.compile(r"(^|\.)marketplace\.amazon\.[a-z.]+$")


class AddressError(OrderbridgeError):
    """An address is malformed or not allowed; the message names the setting and the reason."""


def is_amazon_generated(address: str) -> bool:
    domain = address.rsplit("@", 1)[-1].strip().strip(">").lower()
    return bool(_AMAZON_RELAY.search(domain))


def checked_address(address: str, *, what: str) -> str:
    """The address, trimmed, or AddressError naming `what` (e.g. the setting) and the reason."""
    text = address.strip()
    try:
        parsed = Address(addr_spec=text)
    except (HeaderParseError, ValueError, IndexError):
        raise AddressError(f"{what}: {text!r} is not an e-mail address") from None
    if not parsed.username or "." not in parsed.domain:
        raise AddressError(f"{what}: {text!r} is not an e-mail address")
    if is_amazon_generated(text):
        # The address itself is withheld from the message: it may be a buyer's relay address.
        raise AddressError(f"{what}: an Amazon-generated address cannot receive the book's e-mail")
    return text
