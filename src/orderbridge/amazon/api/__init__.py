"""The SP-API client and everything under a call.

Owns the typed client (`client.py`: one method per operation), the layers each call passes through
(`layers.py`: retries -> quota -> LWA token -> send), the shapes the client takes and returns
(`types.py`, `inbound_types.py`), Login with Amazon (`auth.py`), the quota buckets in the store and in
Redis (`quotas.py`, `quota_redis.py`) and the call log (`calls.py`). It is the only code that does
SP-API I/O. It may import `amazon.accounts`, `amazon.errors` and `amazon.marketplaces`; it imports no
other flow of `amazon/` and nothing of the book.
"""
