"""The `orderbridge sandbox` commands: `serve` (uvicorn, optional HTTPS) and `generate` (a world file)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress

from orderbridge.simulator import generator, worldfile
from orderbridge.simulator.app import Sandbox, create_app
from orderbridge.simulator.clock import VirtualClock, parse_iso

app = typer.Typer(help="The SP-API sandbox: a local stand-in for Amazon.", no_args_is_help=True)
console = Console(soft_wrap=True)  # credentials stay on one line, ready to copy


def self_signed_certificate(directory: Path, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """Write a fresh self-signed certificate and key for `host` (for clients that assume https)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "orderbridge sandbox")])
    now = dt.datetime.now(dt.UTC)
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(host))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(names), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "sandbox-cert.pem", directory / "sandbox-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


@app.command()
def serve(
    *,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8600,
    speed: Annotated[
        float, typer.Option(help="Virtual seconds per real second (600: ten hours a minute).")
    ] = 1.0,
    world: Annotated[
        Path | None, typer.Option("--world", help="World file (JSON or YAML) to start from.")
    ] = None,
    https: Annotated[
        bool, typer.Option(help="Serve HTTPS with a generated self-signed certificate.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Seed for the default generated world and for faults.")] = 7,
) -> None:
    """Run the sandbox on localhost."""
    import uvicorn

    if world is not None:
        start = worldfile.read(world, seed=seed)
    else:
        start = generator.generate(generator.Settings(seed=seed, now=float(int(time.time()))))
    sandbox = Sandbox(start, clock=VirtualClock(start.now, speed=speed), seed=seed)
    options: dict[str, object] = {}
    if https:
        cert, key = self_signed_certificate(Path(tempfile.mkdtemp(prefix="sandbox-tls-")))
        options = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
        console.print(f"certificate: {cert}")
    for account in start.accounts.values():
        console.print(
            f"seller {account.seller_id} ({account.region}): client_id={account.client_id} "
            f"client_secret={account.client_secret} refresh_token={account.refresh_token}"
        )
    scheme = "https" if https else "http"
    console.print(f"sandbox on {scheme}://127.0.0.1:{port} (admin: /_sandbox/state), speed x{speed:g}")
    uvicorn.run(create_app(sandbox), host="127.0.0.1", port=port, log_level="warning", **options)  # type: ignore[arg-type]


@app.command()
def generate(
    *,
    out: Annotated[Path, typer.Option("--out", help="World file to write (.json, .yaml or .yml).")],
    seed: Annotated[int, typer.Option(help="Same seed and options give the same world.")] = 7,
    orders_per_day: Annotated[int, typer.Option("--orders-per-day")] = 50,
    days: Annotated[int, typer.Option()] = 7,
    marketplaces: Annotated[str, typer.Option(help="Comma-separated: US,CA,UK,DE,FR,IT,ES.")] = "US,UK,DE",
    mix: Annotated[str, typer.Option(help="Shares, e.g. fba=0.6,prime=0.3,business=0.1,cancel=0.03.")] = "",
    now: Annotated[
        str, typer.Option(help="End of the generated history (ISO 8601).")
    ] = "2026-01-01T00:00:00Z",
    sellers_per_region: Annotated[
        int, typer.Option("--sellers-per-region", min=1, help="Seller accounts in each region.")
    ] = 1,
) -> None:
    """Generate a seeded world file."""
    settings = generator.Settings(
        seed=seed,
        orders_per_day=orders_per_day,
        days=days,
        marketplaces=[m.strip() for m in marketplaces.split(",") if m.strip()],
        mix=generator.parse_mix(mix),
        now=parse_iso(now),
        sellers_per_region=sellers_per_region,
    )
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("generating orders", total=orders_per_day * days)
        world = generator.generate(
            settings, lambda done, total: progress.update(task, completed=done, total=total)
        )
    worldfile.write(world, out)
    console.print(f"wrote {out}: {len(world.orders)} orders, {len(world.accounts)} sellers")
