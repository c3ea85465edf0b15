"""The one base error of orderbridge; each package derives its own errors from it."""


class OrderbridgeError(Exception):
    """Base of every error orderbridge raises on purpose. Messages name what is wrong, never PII."""
