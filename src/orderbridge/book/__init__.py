"""The seller's book: contacts, catalog, stock, sales orders, credits, payments and transfers.

Plain domain code over SQLAlchemy models. It knows nothing about Amazon; callers never commit.
"""
