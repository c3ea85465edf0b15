"""`orderbridge channels ...`: Amazon marketplace channels and their settings (show, set, export, import)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from orderbridge.amazon.channel import (
    ChannelSettings,
    ChannelSettingsError,
    change_settings,
    export_settings,
    import_settings,
    settings_for,
)
from orderbridge.amazon.marketplaces import example_ids
from orderbridge.book.channels import ChannelKind, channel_by_code, save_channel
from orderbridge.cli.context import console, fail, unit_of_work
from orderbridge.cli.output import print_json, print_table, reported_errors

channels = typer.Typer(
    help="Amazon marketplace channels and their settings (statuses, customers, fields, warehouses, tax).",
    no_args_is_help=True,
)

ChannelCode = Annotated[str, typer.Argument(help="The channel's code, e.g. amazon-uk.")]


@contextmanager
def settings_errors() -> Iterator[None]:
    """Refused settings and book errors as a message on stderr and exit code 1."""
    with reported_errors():
        try:
            yield
        except ChannelSettingsError as error:
            raise fail(str(error)) from None


@channels.command("add")
def add_channel(
    code: ChannelCode,
    marketplace_id: Annotated[
        str, typer.Argument(help=f"Amazon's marketplace id, e.g. {example_ids('UK')}.")
    ],
    name: Annotated[str, typer.Option(help="A name to show; the code if not given.")] = "",
) -> None:
    """Add (or rename) the channel of one Amazon marketplace; its settings start at the defaults."""
    with settings_errors(), unit_of_work() as session:
        save_channel(session, code, name or code, ChannelKind.AMAZON, marketplace_id.strip())
    console.print(f"channel {code}: Amazon marketplace {marketplace_id}", highlight=False)


@channels.command("show")
def show(
    code: ChannelCode,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Show every setting of a channel (defaults included)."""
    with settings_errors(), unit_of_work() as session:
        channel = channel_by_code(session, code)
        settings = settings_for(session, channel)
        tax = settings.tax_behaviour_for(channel.marketplace_id)
    values = settings.model_dump(mode="json")
    if as_json:
        print_json(values)
        return
    rows = [[name, _shown(value)] for name, value in values.items()]
    rows.append(["(tax behaviour in effect)", tax.value])
    print_table(f"Channel {code}", ["setting", "value"], rows)


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


@channels.command("set")
def set_settings(
    code: ChannelCode,
    changes: Annotated[
        list[str], typer.Argument(help="setting=value pairs; an empty value clears (e.g. status_new_fba=).")
    ],
) -> None:
    """Change settings; all are checked against the book before any is saved."""
    parsed: dict[str, str] = {}
    for change in changes:
        name, sep, value = change.partition("=")
        if not sep or not name.strip():
            raise fail(
                f"{change!r}: expected setting=value (settings: {', '.join(ChannelSettings.model_fields)})", 2
            )
        parsed[name.strip()] = value
    with settings_errors(), unit_of_work() as session:
        change_settings(session, channel_by_code(session, code), parsed)
    console.print(f"channel {code}: {len(parsed)} setting(s) saved", highlight=False)


@channels.command("export")
def export(
    codes: Annotated[
        list[str] | None, typer.Argument(help="Channel codes, e.g. amazon-uk (default: every channel).")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (else stdout).")
    ] = None,
) -> None:
    """Amazon channels' settings as YAML, to version and diff (`channels import` reads it back)."""
    with settings_errors(), unit_of_work() as session:
        text = export_settings(session, codes or ())
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}", highlight=False)


@channels.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="A YAML export.")],
) -> None:
    """Replace channels' settings from a YAML export: every channel is checked first, then all are saved."""
    with settings_errors(), unit_of_work() as session:
        saved = import_settings(session, file.read_text(encoding="utf-8"))
    console.print(f"settings imported for {', '.join(saved) or 'no channel'}", highlight=False)
