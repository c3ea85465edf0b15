"""What the book tells Amazon: the outbox sender and the messages it delivers.

Owns the sender (`sender.py`: one pass, retries, the full stock push), a pass's clients, lease and
shared bookkeeping (`sender_pass.py`), shipment confirmations (`shipment_packages.py`: what a book
shipment tells Amazon; `confirmations.py`: sending them one at a time and checking a confirmation a
dead sender left in flight) and FBM stock (`listing_quantities.py`: the quantity each listing should
show; `stock_updates.py`: patches, feeds and their read-back). It may import `amazon.api`,
`amazon.orders.records` (which Amazon order a shipment belongs to), the modules at the top of
`amazon/`, the book and the outbox; nothing imports it but the jobs, the CLI and the web.
"""
