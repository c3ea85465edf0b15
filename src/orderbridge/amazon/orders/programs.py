"""The programs an Amazon order can carry (model: Order.programs), in the words a seller filters by (O24)."""

from __future__ import annotations

PROGRAMS = {
    "PRIME": "Prime",
    "AMAZON_BUSINESS": "Amazon Business",
    "AMAZON_EASY_SHIP": "Easy Ship",
    "FBM_SHIP_PLUS": "FBM Ship+",
    "PREMIUM": "Premium shipping",
    "PREORDER": "Pre-order",
    "IN_STORE_PICK_UP": "In-store pick-up",
    "DELIVERY_BY_AMAZON": "Delivery by Amazon",
    "INVOICE_BY_AMAZON": "Invoice by Amazon",
    "AMAZON_BAZAAR": "Amazon Bazaar",
    "AMAZON_HAUL": "Amazon Haul",
}
