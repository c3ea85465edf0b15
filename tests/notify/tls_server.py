"""A real SMTP server over TLS (aiosmtpd): STARTTLS or implicit TLS, with a login, and the certificates
it presents, generated here (cryptography): a throw-away CA and a server certificate for 127.0.0.1."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from orderbridge.notify.mail import MailSettings
from tests.notify.smtp_server import Inbox, free_port

USERNAME = "shop-mailer"
PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class Certificates:
    ca_file: Path  # the CA's certificate: what smtp_ca_file names to trust the server
    cert_file: Path  # the server's certificate (signed by the CA) and its key
    key_file: Path
    other_ca_file: Path  # a CA that did not sign the server's certificate


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_certificates(directory: Path) -> Certificates:
    ca_key, ca = _ca("orderbridge test CA")
    _, other = _ca("some other CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    found = Certificates(
        ca_file=directory / "ca.pem",
        cert_file=directory / "server.pem",
        key_file=directory / "server.key",
        other_ca_file=directory / "other-ca.pem",
    )
    found.ca_file.write_bytes(_pem(ca))
    found.other_ca_file.write_bytes(_pem(other))
    found.cert_file.write_bytes(_pem(cert))
    found.key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return found


def _server_context(certificates: Certificates) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates.cert_file, certificates.key_file)
    return context


class _Logins:
    """aiosmtpd authenticator: one account; counts the attempts it saw."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, bool]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            USERNAME.encode(),
            PASSWORD.encode(),
        )
        self.attempts.append((mechanism, ok))
        return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535


@dataclass
class TlsServer:
    inbox: Inbox
    mail: MailSettings  # settings that work: the right mode, login and CA file
    logins: _Logins


@contextmanager
def tls_smtp_server(certificates: Certificates, *, mode: str) -> Iterator[TlsServer]:
    """A server requiring a login over TLS: `starttls` (plain, then STARTTLS) or `ssl` (implicit TLS)."""
    inbox, logins, port = Inbox(), _Logins(), free_port()
    context = _server_context(certificates)
    # aiosmtpd counts only STARTTLS as TLS for AUTH: over implicit TLS it must be told AUTH is allowed
    # (the whole connection is encrypted there anyway).
    common: dict[str, Any] = {
        "hostname": "127.0.0.1", "port": port, "authenticator": logins, "auth_required": True,
        "auth_require_tls": mode != "ssl",
    }  # fmt: skip
    if mode == "ssl":
        controller = Controller(inbox, ssl_context=context, **common)
    else:
        controller = Controller(inbox, tls_context=context, require_starttls=True, **common)
    controller.start()
    try:
        yield TlsServer(
            inbox,
            MailSettings(
                host="127.0.0.1",
                port=port,
                tls=mode,
                sender="orderbridge@shop.example",
                recipients=("seller@shop.example",),
                username=USERNAME,
                password=PASSWORD,
                timeout=10.0,
                ca_file=certificates.ca_file,
            ),
            logins,
        )
    finally:
        controller.stop()
