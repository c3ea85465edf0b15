"""How the web server may listen (AC-24): plain HTTP only on loopback; HTTPS served here with a configured
or self-signed certificate (TLS 1.2 or newer); or behind a TLS proxy declared in settings.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from orderbridge.config import Settings
from orderbridge.web.errors import TlsSettingsError

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class Listening:
    """What the server does: bind host:port, HTTPS with these files or not, trust these proxies."""

    host: str
    port: int
    certificate: tuple[Path, Path] | None
    proxy_ips: tuple[str, ...]

    @property
    def url(self) -> str:
        scheme = "https" if self.certificate else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plan_listening(settings: Settings) -> Listening:
    """The listening plan, or TlsSettingsError saying why the settings would serve plain HTTP off loopback."""
    host, mode = settings.web_host.strip(), settings.web_tls
    if mode == "off":
        if not is_loopback(host):
            raise TlsSettingsError(
                f"ORDERBRIDGE_WEB_HOST={host} is not a loopback address, and plain HTTP is only served on "
                "loopback (DPP AC-24: buyer data travels over TLS 1.2+). Set ORDERBRIDGE_WEB_TLS=direct "
                "(with ORDERBRIDGE_WEB_TLS_CERT_FILE and _KEY_FILE, or a self-signed certificate made for "
                "you), or ORDERBRIDGE_WEB_TLS=proxy with ORDERBRIDGE_WEB_PROXY_IPS naming your TLS proxy, "
                "or listen on 127.0.0.1."
            )
        return Listening(host, settings.web_port, None, ())
    if mode == "proxy":
        if not settings.web_proxy_ips:
            raise TlsSettingsError(
                "ORDERBRIDGE_WEB_TLS=proxy needs ORDERBRIDGE_WEB_PROXY_IPS: the address(es) of the TLS proxy "
                'in front of orderbridge (e.g. ["127.0.0.1"]); requests from elsewhere are refused'
            )
        for address in settings.web_proxy_ips:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise TlsSettingsError(
                    f"ORDERBRIDGE_WEB_PROXY_IPS: {address!r} is not an IP address"
                ) from None
        return Listening(host, settings.web_port, None, tuple(settings.web_proxy_ips))
    return Listening(host, settings.web_port, certificate_files(settings), ())


def certificate_files(settings: Settings) -> tuple[Path, Path]:
    """The configured certificate and key, or a self-signed pair beside the KEK (made on first use)."""
    cert, key = settings.web_tls_cert_file, settings.web_tls_key_file
    if cert is not None or key is not None:
        if cert is None or key is None:
            raise TlsSettingsError("set both ORDERBRIDGE_WEB_TLS_CERT_FILE and ORDERBRIDGE_WEB_TLS_KEY_FILE")
        for name, path in (("CERT", cert), ("KEY", key)):
            if not path.is_file():
                raise TlsSettingsError(f"ORDERBRIDGE_WEB_TLS_{name}_FILE={path}: no such file")
        return cert, key
    folder = settings.kek_file.parent  # secrets/: outside data_dir, so database backups do not copy it
    cert, key = folder / "web-tls.crt", folder / "web-tls.key"
    if not (cert.is_file() and key.is_file()):
        write_self_signed(cert, key, host=settings.web_host)
    return cert, key


def write_self_signed(cert_file: Path, key_file: Path, *, host: str, days: int = 365) -> None:
    """A self-signed ECDSA P-256 certificate for `host`, localhost and 127.0.0.1; the key file mode 0600."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host or "localhost")])
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        if host and host != "localhost":
            names.append(x509.DNSName(host))
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(list(dict.fromkeys(names))), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    """The server's TLS context: TLS 1.2 or newer only (DPP R6/AC-24)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return context
