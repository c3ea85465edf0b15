"""Importing tax codes (code, name, rate) and the tax rules that pick them (O13)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.book.tax import TaxCode, TaxRule, add_tax_code, save_tax_rule
from orderbridge.imports.csv_source import CsvTable
from orderbridge.imports.errors import Problem, reject_if_any
from orderbridge.imports.report import ImportReport, Tick, no_tick
from orderbridge.imports.rows import TaxCodeRow, TaxRuleRow, validate_rows

RuleKey = tuple[str | None, str | None, str | None]


def import_tax_codes(session: Session, table: CsvTable, *, tick: Tick = no_tick) -> ImportReport:
    """Add each tax code, or change the name and rate of the code already in the book; all rows or none."""
    valid = validate_rows(table, TaxCodeRow)
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    for line, row in valid.checkable:
        if row.code is None:  # a bad cell, already a problem
            continue
        if row.code in first_line:
            problems.append(Problem(line, "code", f"is also on line {first_line[row.code]}", row.code))
        first_line.setdefault(row.code, line)
    reject_if_any(table.source, [*valid.problems, *problems])
    existing = {code.code: (code.name, code.rate) for code in session.scalars(select(TaxCode))}
    report = ImportReport("tax codes", table.source, rows=len(valid.rows))
    for _line, row in valid.rows:
        before = existing.get(row.code)
        if before is not None and before == (row.name, row.rate):
            report.unchanged += 1
        else:
            add_tax_code(session, row.code, row.name, row.rate)
            report.created += before is None
            report.changed += before is not None
        tick()
    return report


def import_tax_rules(session: Session, table: CsvTable, *, tick: Tick = no_tick) -> ImportReport:
    """Add each tax rule, or change the tax code and priority of the rule with the same marketplace,
    ship-to country and tax class; all rows or none. An empty criterion matches anything."""
    valid = validate_rows(table, TaxRuleRow)
    codes = set(session.scalars(select(TaxCode.code)))
    problems: list[Problem] = []
    first_line: dict[RuleKey, int] = {}
    for line, row in valid.checkable:
        if row.tax_code is not None and row.tax_code not in codes:
            problems.append(Problem(line, "tax_code", "no tax code has this code", row.tax_code))
        key = (row.marketplace, row.ship_to_country, row.tax_class)
        if key in first_line:
            problems.append(Problem(line, None, f"has the same criteria as line {first_line[key]}"))
        first_line.setdefault(key, line)
    reject_if_any(table.source, [*valid.problems, *problems])
    existing = {
        (rule.marketplace, rule.ship_to_country, rule.tax_class): (rule.tax_code, rule.priority)
        for rule in session.scalars(select(TaxRule))
    }
    report = ImportReport("tax rules", table.source, rows=len(valid.rows))
    for _line, row in valid.rows:
        key = (row.marketplace, row.ship_to_country, row.tax_class)
        before = existing.get(key)
        if before == (row.tax_code, row.priority):
            report.unchanged += 1
        else:
            save_tax_rule(
                session,
                row.tax_code,
                marketplace=row.marketplace,
                ship_to_country=row.ship_to_country,
                tax_class=row.tax_class,
                priority=row.priority,
            )
            report.created += before is None
            report.changed += before is not None
        tick()
    return report
