"""Turning CSV text written in a test into a CsvTable, as a file would arrive."""

from __future__ import annotations

from orderbridge.imports.csv_source import CsvTable, parse_csv


def table(text: str, source: str = "test.csv") -> CsvTable:
    """A CsvTable from CSV text; each line is stripped, so tests can indent their CSV."""
    lines = [line.strip() for line in text.strip().splitlines()]
    return parse_csv(("\n".join(lines) + "\n").encode(), source=source)
