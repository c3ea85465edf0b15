"""Everything that speaks Amazon SP-API: seller accounts, the client, quotas and the call log."""
