"""The operator's web UI and REST API: sign-in, roles, pages and /api/v1, served by `orderbridge run`."""
