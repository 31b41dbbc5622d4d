"""Outbound HTTP to user-given URLs: the checked address is the one connected to, while TLS
still verifies the certificate of the URL's host name and the Host header stays the name's."""

from __future__ import annotations

import asyncio
import datetime as dt
import ssl

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from frontdesk.outbound import AddressRefused, GuardedTransport


def self_signed(folder):  # type: ignore[no-untyped-def]
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture
async def tls_server(tmp_path):  # type: ignore[no-untyped-def]
    cert_path, key_path = self_signed(tmp_path)
    server_names: list[str | None] = []
    hosts: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    context.sni_callback = lambda sock, name, ctx: server_names.append(name)  # type: ignore[assignment,return-value]

    async def serve(reader, writer):  # type: ignore[no-untyped-def]
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        hosts.extend(line.split(":", 1)[1].strip() for line in head.split("\r\n") if line.lower().startswith("host:"))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    port = server.sockets[0].getsockname()[1]
    client_context = ssl.create_default_context(cafile=str(cert_path))
    try:
        yield port, client_context, server_names, hosts
    finally:
        server.close()
        await server.wait_closed()


async def test_https_to_a_checked_address_keeps_the_name_for_sni_certificate_and_host(tls_server):
    port, client_context, server_names, hosts = tls_server
    transport = GuardedTransport(allow_private=True, ssl_context=client_context)
    async with httpx.AsyncClient(transport=transport) as client:
        answer = await client.post(f"https://localhost:{port}/hook", content=b"{}")
    assert answer.status_code == 200 and answer.text == "ok"
    assert server_names == ["localhost"]
    assert hosts == [f"localhost:{port}"]


async def test_a_certificate_for_another_name_is_refused(tls_server):
    port, client_context, _, _ = tls_server
    transport = GuardedTransport(allow_private=True, ssl_context=client_context)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.post(f"https://127.0.0.1:{port}/hook", content=b"{}")


async def test_a_name_that_resolves_to_loopback_is_never_connected_to_unless_allowed(tls_server):
    port, client_context, server_names, _ = tls_server
    transport = GuardedTransport(allow_private=False, ssl_context=client_context)
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(AddressRefused, match="127.0.0.1|::1"):
            await client.post(f"https://localhost:{port}/hook", content=b"{}")
    assert server_names == []
