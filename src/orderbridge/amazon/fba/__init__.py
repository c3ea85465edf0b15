"""Fulfilment by Amazon: the stock Amazon holds for the seller, and how it moves.

Owns the tables the FBA flows share and the opening's cutoff (`records.py`), where FBA facts land in
the book (`places.py`), the inventory ledger (`ledger_rows.py` reads a row, `ledger_booking.py` moves
stock by reason code, `ledger.py` holds the report handlers), the opening balance (`opening.py`, and
`before_opening.py` for what its count already holds), claims for lost and damaged units
(`claims.py`), and inbound shipments as warehouse transfers with their e-mails (`inbound.py`,
`inbound_notices.py`). Each flow imports `records.py`, never another flow's module in a circle. It may
import `amazon.api`, the machinery of `amazon.reports`, the modules at the top of `amazon/`, the book
and notify; never `amazon.orders` or `amazon.outbound`.
"""
