"""Operations: metrics in Prometheus text format and health checks, for the CLI and the web app."""
