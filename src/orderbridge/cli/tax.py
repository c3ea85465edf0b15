"""`orderbridge tax codes|rules ...`: the tax codes (rates) and the rules that pick one for a row (O13)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Annotated

import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderbridge.amazon.marketplaces import code_of
from orderbridge.book.tax import TaxCode, TaxRule, add_tax_code, company, save_tax_rule
from orderbridge.cli.catalog import AsJson, CsvFile
from orderbridge.cli.context import console, fail, unit_of_work
from orderbridge.cli.output import checked, print_json, print_table, reported_errors, row_progress, yes_no
from orderbridge.imports.csv_source import read_csv
from orderbridge.imports.rows import country_code, marketplace_id, tax_rate
from orderbridge.imports.tax import import_tax_codes, import_tax_rules

tax = typer.Typer(help="Tax codes and the rules that pick one for each order row.", no_args_is_help=True)
codes = typer.Typer(help="Tax codes: a name and a rate, e.g. VAT-GB 20%.", no_args_is_help=True)
rules = typer.Typer(
    help="Tax rules: by marketplace, ship-to country and tax class, the most specific rule wins.",
    no_args_is_help=True,
)
tax.add_typer(codes, name="codes")
tax.add_typer(rules, name="rules")


@codes.command("add")
def add_code(
    code: Annotated[str, typer.Argument(help="A short unique code, e.g. VAT-GB.")],
    name: Annotated[str, typer.Argument(help="The name to show, e.g. 'UK standard VAT'.")],
    rate: Annotated[str, typer.Argument(help="The rate: 0.20 or 20%.")],
) -> None:
    """Add a tax code, or change the name and rate of an existing one."""
    parsed = checked("rate", tax_rate, rate)
    if not code.strip() or len(code.strip()) > 20:
        raise fail(f"tax code {code!r}: must be 1 to 20 characters")
    with reported_errors(), unit_of_work() as session:
        existed = session.get(TaxCode, code.strip()) is not None
        add_tax_code(session, code.strip(), name.strip() or code.strip(), parsed)
    line = f"tax code {code.strip()} {'changed' if existed else 'added'}: {_percent(parsed)}"
    console.print(line, highlight=False)


@codes.command("list")
def list_codes(as_json: AsJson = False) -> None:
    """List the tax codes with their rates and how many rules pick each."""
    with unit_of_work() as session:
        found = tax_code_listing(session)
    if as_json:
        print_json([asdict(code) for code in found])
        return
    rows = [[c.code, c.name, _percent(c.rate), c.rules, yes_no(c.company_default)] for c in found]
    columns = ["code", "name", "rate", "rules", "company default"]
    print_table("Tax codes", columns, rows, right=frozenset({"rate", "rules"}))


@codes.command("import")
def import_codes(file: CsvFile) -> None:
    """Add or change tax codes from a CSV file: all rows or none.

    Columns: code, name, rate (all required; the rate as 0.20 or 20%). Any bad row (named by line and
    column) means nothing is imported; exit code 1. Importing the same file again changes nothing.
    """
    with reported_errors():
        table = read_csv(file)
        with row_progress("tax codes", len(table.rows)) as tick, unit_of_work() as session:
            report = import_tax_codes(session, table, tick=tick)
    console.print(str(report), highlight=False, soft_wrap=True)


@dataclass(frozen=True)
class TaxCodeView:
    code: str
    name: str
    rate: Decimal
    rules: int
    company_default: bool


def tax_code_listing(session: Session) -> list[TaxCodeView]:
    counted = select(TaxRule.tax_code, func.count(TaxRule.id)).group_by(TaxRule.tax_code)
    used: dict[str, int] = {code: count for code, count in session.execute(counted)}
    default = company(session).default_tax_code
    return [
        TaxCodeView(c.code, c.name, c.rate.normalize(), int(used.get(c.code, 0)), c.code == default)
        for c in session.scalars(select(TaxCode).order_by(TaxCode.code))
    ]


def _percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


@rules.command("add")
def add_rule(
    tax_code: Annotated[str, typer.Argument(help="The tax code the rule picks (see `tax codes list`).")],
    marketplace: Annotated[
        str | None, typer.Option(help="Only orders of this Amazon marketplace (code such as UK, or its id).")
    ] = None,
    country: Annotated[
        str | None, typer.Option(help="Only orders shipped to this country (ISO code such as GB).")
    ] = None,
    tax_class: Annotated[str | None, typer.Option(help="Only products of this tax class.")] = None,
    priority: Annotated[int, typer.Option(help="Breaks ties between equally specific rules.")] = 0,
) -> None:
    """Add a tax rule, or change the tax code of the rule with the same criteria.

    Each row takes the tax code of the most specific rule that matches it (a criterion left out matches
    anything), else the company's default tax code."""
    market = checked("marketplace", marketplace_id, marketplace) if marketplace else None
    ship_to = checked("country", country_code, country) if country else None
    with reported_errors(), unit_of_work() as session:
        rule, new = save_tax_rule(
            session,
            tax_code.strip(),
            marketplace=market,
            ship_to_country=ship_to,
            tax_class=(tax_class or "").strip() or None,
            priority=priority,
        )
        line = f"tax rule {rule.id} {'added' if new else 'changed'}: {_criteria(rule)} -> {rule.tax_code}"
    console.print(line, highlight=False)


@rules.command("list")
def list_rules(as_json: AsJson = False) -> None:
    """List the tax rules, most specific first."""
    with unit_of_work() as session:
        found = tax_rule_listing(session)
    if as_json:
        print_json([asdict(rule) for rule in found])
        return
    rows = [
        [r.id, r.marketplace, r.ship_to_country, r.tax_class, r.priority, r.tax_code, _percent(r.rate)]
        for r in found
    ]
    columns = ["rule", "marketplace", "ship-to country", "tax class", "priority", "tax code", "rate"]
    print_table("Tax rules", columns, rows, right=frozenset({"priority", "rate"}))


@rules.command("import")
def import_rules(file: CsvFile) -> None:
    """Add or change tax rules from a CSV file: all rows or none.

    Columns: tax_code (required, an existing tax code), marketplace (a code such as UK, or its id),
    ship_to_country (ISO code such as GB), tax_class, priority (a whole number, 0 if empty). An empty
    criterion matches anything; a row with the same criteria as a rule in the book changes that rule.
    Any bad row (named by line and column) means nothing is imported; exit code 1.
    """
    with reported_errors():
        table = read_csv(file)
        with row_progress("tax rules", len(table.rows)) as tick, unit_of_work() as session:
            report = import_tax_rules(session, table, tick=tick)
    console.print(str(report), highlight=False, soft_wrap=True)


@dataclass(frozen=True)
class TaxRuleView:
    id: int
    marketplace: str | None
    ship_to_country: str | None
    tax_class: str | None
    priority: int
    tax_code: str
    rate: Decimal


def tax_rule_listing(session: Session) -> list[TaxRuleView]:
    """Rules as pick_tax_code weighs them: most criteria first, then priority."""
    query = select(TaxRule, TaxCode.rate).join(TaxCode, TaxCode.code == TaxRule.tax_code)
    found = [
        TaxRuleView(
            rule.id,
            code_of(rule.marketplace) if rule.marketplace else None,
            rule.ship_to_country,
            rule.tax_class,
            rule.priority,
            rule.tax_code,
            rate.normalize(),
        )
        for rule, rate in session.execute(query)
    ]
    return sorted(found, key=lambda r: (-_specificity(r), -r.priority, r.id))


def _specificity(rule: TaxRuleView) -> int:
    return sum(value is not None for value in (rule.marketplace, rule.ship_to_country, rule.tax_class))


def _criteria(rule: TaxRule) -> str:
    parts = [
        f"marketplace {code_of(rule.marketplace)}" if rule.marketplace else "",
        f"ship to {rule.ship_to_country}" if rule.ship_to_country else "",
        f"tax class {rule.tax_class}" if rule.tax_class else "",
    ]
    return ", ".join(filter(None, parts)) or "any order"
