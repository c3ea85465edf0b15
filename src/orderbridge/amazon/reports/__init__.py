"""Flat-file reports: the machinery every report goes through, and the flows that only read reports.

The machinery: rows read as a stream by header name (`rows.py`), numbers and dates per marketplace
(`locales.py`), the handler registry (`handlers.py`), the report inbox (`inbox.py`), booking a file
batch by batch (`booking.py`) and fetching reports from Amazon (`sync.py`). The flows: settlements
(`settlements.py`) and returns (`returns.py`). The FBA handlers live in `amazon.fba`, which builds on
this machinery; `sync.py` and `returns.py` read from `amazon.fba` only what the FBA opening decides
(whether the ledger waits for it, which returns it already counted). It may import `amazon.api`, the
modules at the top of `amazon/` and the book; never `amazon.orders` or `amazon.outbound`.
"""
