"""Buyer personal data under Amazon's Data Protection Policy: keys, field encryption, archive, audit."""
