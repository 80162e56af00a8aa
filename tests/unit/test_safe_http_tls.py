"""TLS through the guarded transports: connect to the checked IP, verify the certificate
against the hostname (SNI + hostname check), all on 127.0.0.1 with a throwaway certificate."""

import asyncio
import datetime
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lambdas.common.safe_http import (
    AsyncSafeTransport,
    FetchError,
    FetchLimits,
    SafeTransport,
    fetch,
    fetch_async,
)
from lambdas.common.settings import Settings
from tests.lambdas.crawl_support import RecordingResolver, ScenarioServer, running_server

HOSTNAME = "site.example.com"
LIMITS = FetchLimits.from_settings(Settings(request_timeout=3.0))


def _certificate(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOSTNAME)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOSTNAME)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls(tmp_path: Path) -> Iterator[tuple[ScenarioServer, ssl.SSLContext]]:
    cert_path, key_path = _certificate(tmp_path)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_path, key_path)
    client_context = ssl.create_default_context(cafile=str(cert_path))
    with running_server() as server:
        server.socket = server_context.wrap_socket(server.socket, server_side=True)
        server.html("/", "<title>over tls</title>")
        yield server, client_context


def test_sync_tls_verifies_the_hostname_while_connecting_to_the_checked_ip(
    tls: tuple[ScenarioServer, ssl.SSLContext],
) -> None:
    server, context = tls
    resolver = RecordingResolver({HOSTNAME: ["127.0.0.1"], "other.example.com": ["127.0.0.1"]})
    transport = SafeTransport(allow_private_networks=True, resolver=resolver, verify=context)
    with httpx.Client(transport=transport) as client:
        response = fetch(client, f"https://{HOSTNAME}:{server.port}/", LIMITS)
        assert response.body == b"<title>over tls</title>"
        with pytest.raises(FetchError, match="connection failed") as wrong:
            fetch(client, f"https://other.example.com:{server.port}/", LIMITS)
    assert "other.example.com" in wrong.value.reason  # hostname mismatch, not the IP
    assert server.hits("/")[0].headers["host"] == f"{HOSTNAME}:{server.port}"


def test_async_tls_verifies_the_hostname_while_connecting_to_the_checked_ip(
    tls: tuple[ScenarioServer, ssl.SSLContext],
) -> None:
    server, context = tls
    resolver = RecordingResolver({HOSTNAME: ["127.0.0.1"], "other.example.com": ["127.0.0.1"]})

    async def run() -> tuple[bytes, str]:
        transport = AsyncSafeTransport(
            allow_private_networks=True, resolver=resolver, verify=context
        )
        async with httpx.AsyncClient(transport=transport) as client:
            ok = await fetch_async(client, f"https://{HOSTNAME}:{server.port}/", LIMITS)
            with pytest.raises(FetchError, match="connection failed") as wrong:
                await fetch_async(client, f"https://other.example.com:{server.port}/", LIMITS)
            return ok.body, wrong.value.reason

    body, reason = asyncio.run(run())
    assert body == b"<title>over tls</title>"
    assert "other.example.com" in reason
