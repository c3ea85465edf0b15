"""DPP AC-24: plain HTTP only on loopback; HTTPS (TLS 1.2+) served directly or a declared TLS proxy."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from orderbridge.config import SettingsError
from orderbridge.web.app import create_app
from orderbridge.web.errors import TlsSettingsError
from orderbridge.web.serving import ServedWeb
from orderbridge.web.tls import plan_listening
from tests.web.conftest import WebApp, WebClient, web_settings


def test_ac24_plain_http_off_loopback_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(TlsSettingsError, match="not a loopback address"):
        plan_listening(web_settings(tmp_path, "sqlite://", web_host="0.0.0.0"))
    with pytest.raises(TlsSettingsError, match="WEB_PROXY_IPS"):
        plan_listening(web_settings(tmp_path, "sqlite://", web_host="0.0.0.0", web_tls="proxy"))
    assert plan_listening(web_settings(tmp_path, "sqlite://")).certificate is None


def test_ac24_https_served_directly_with_tls_1_2_or_newer(web: WebApp, tmp_path: Path) -> None:
    settings = web_settings(tmp_path, web.settings.store_url, web_tls="direct", web_port=8000)
    listening = plan_listening(settings)
    assert listening.certificate is not None
    assert oct(listening.certificate[1].stat().st_mode & 0o777) == "0o600"
    listening = type(listening)("127.0.0.1", 0, listening.certificate, ())
    app = create_app(settings, sessions=web.sessions, keys=web.keys, clock=web.clock)
    with ServedWeb(app, listening) as served:
        assert served.url.startswith("https://")
        trusted = ssl.create_default_context(cafile=str(listening.certificate[0]))
        assert httpx.get(served.url + "/health", verify=trusted).json() == {"status": "ok"}
        old = ssl.create_default_context(cafile=str(listening.certificate[0]))
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
        with pytest.raises(httpx.ConnectError):
            httpx.get(served.url + "/health", verify=old)
        with pytest.raises(httpx.HTTPError):
            httpx.get(served.url.replace("https", "http") + "/health")


def test_ac24_the_app_refuses_plain_http_from_off_loopback_or_past_the_proxy(
    web: WebApp, tmp_path: Path
) -> None:
    remote = WebClient(web.app, client=("203.0.113.7", 5555), raise_server_exceptions=False)
    answer = remote.get("/health")
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "tls_required"
    proxied = web_settings(tmp_path, web.settings.store_url, web_tls="proxy", web_proxy_ips=["127.0.0.1"])
    app = create_app(proxied, sessions=web.sessions, keys=web.keys, clock=web.clock)
    assert WebClient(app, raise_server_exceptions=False).get("/health").status_code == 403
    https = WebClient(app, base_url="https://testserver", raise_server_exceptions=False)
    assert https.get("/health").status_code == 200


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("postgresql+psycopg://postgres@127.0.0.1:5432/book", True),
        ("postgresql+psycopg://postgres@localhost/book", True),
        ("postgresql+psycopg://postgres@/book?host=/var/run/postgresql", True),
        ("postgresql+psycopg://app@db.example.com/book?sslmode=require", True),
        ("postgresql+psycopg://app@db.example.com/book", False),
        ("postgresql+psycopg://app@10.0.0.5/book?sslmode=prefer", False),
    ],
)
def test_ac24_a_database_off_this_host_without_tls_is_refused(
    tmp_path: Path, url: str, allowed: bool
) -> None:
    if allowed:
        assert web_settings(tmp_path, url).database_url == url
    else:
        with pytest.raises(SettingsError, match="TLS"):
            web_settings(tmp_path, url)
