"""Everything that speaks Amazon SP-API or knows Amazon's rules, as one package per flow.

- `api/`: the SP-API client and everything under a call (layers, LWA, quotas, the call log).
- `orders/`: order download into the book (sync, backfill, inbox, booking, mapping).
- `reports/`: the report machinery, and the flows that only read reports (settlements, returns).
- `fba/`: FBA stock: the inventory ledger, the opening balance, claims, inbound shipments.
- `outbound/`: the outbox sender: shipment confirmations and FBM stock to Amazon.

At the top, what every flow reads: the marketplaces (`marketplaces.py`), seller accounts
(`accounts.py`), channel settings (`channel.py`), listings (`listings.py`), the adapter's errors
(`errors.py`), leases that keep two runners off one job (`leases.py`), the orders the download did not
take as sales, for the reports that meet them again (`not_sales.py`), and the read queries of the pages
(`queries.py`). The book never imports this package.
"""
