"""Read-only queries of the book for the web pages and the REST API: keyset-paged lists and detail views."""
