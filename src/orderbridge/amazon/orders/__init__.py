"""Order download: Amazon's orders into the book.

Owns the sync pass (`sync.py`: searchOrders pages -> inbox + cursor -> book), the getOrder backlog and
Pending watch (`backfill.py`), the cursors and the raw inbox (`cursors.py`, `inbox.py`), booking the
inbox (`inbox_booking.py` -> `page_booking.py` -> `booking.py`, with the facts a page needs in
`facts.py` and what became of each order in `records.py`), the rows a first sync needs (`first_use.py`)
and the pure mapping of an Amazon order to book commands (`mapping/`). It may import `amazon.api`, the
modules at the top of `amazon/` and the book; never the report, FBA or outbound flows.
"""
