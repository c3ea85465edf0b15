"""orderbridge: a self-hosted order and inventory book for Amazon sellers."""

__version__ = "0.1.0"
