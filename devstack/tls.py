"""Throwaway X.509 material for the local test stack.

Two uses: a CA plus a server certificate so the ``basic`` registry speaks HTTPS that clients can
verify with a CA file, and a self-signed RS256 signing certificate for the token server (the
registry's ``rootcertbundle`` trusts it; tokens carry it in their ``x5c`` header).

Imports only ``cryptography`` and the stdlib: the stack is an oracle independent of the package.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Backdated so a clock a little behind the machine that made the files still accepts them.
_BACKDATE = dt.timedelta(days=1)
_VALIDITY = dt.timedelta(days=3650)


@dataclass(frozen=True)
class ServerTLS:
    ca_file: Path
    cert_file: Path
    key_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "registry-widgets test stack"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _write_private(path: Path, data: bytes) -> None:
    # Keys are throwaway, but there is no reason to make them world-readable.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _pem_key(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def make_server_tls(directory: Path, *, hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
                    ) -> ServerTLS:
    """Create (or reuse) ``ca.crt``, ``server.crt`` and ``server.key`` in *directory*.

    Reuse matters: a restarted registry must present a certificate clients already trust.
    """
    directory.mkdir(parents=True, exist_ok=True)
    tls = ServerTLS(directory / "ca.crt", directory / "server.crt", directory / "server.key")
    if all(p.exists() for p in (tls.ca_file, tls.cert_file, tls.key_file)):
        return tls

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("registry-widgets test CA")
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE).not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        # Strict verifiers (Python >= 3.13's VERIFY_X509_STRICT, Go) want key usage and key ids.
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(ca_ski, critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0])).issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE).not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False,
                                     key_cert_sign=False, crl_sign=False,
                                     content_commitment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False,
                                     decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    tls.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    tls.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(tls.key_file, _pem_key(key))
    return tls


def make_signing_cert(directory: Path) -> tuple[Path, Path]:
    """Create (or reuse) ``token.crt``/``token.key``: an RSA key and its self-signed certificate.

    distribution verifies the ``x5c`` chain against ``rootcertbundle``; a self-signed leaf that
    is itself the root is enough (registry/auth/token/token.go, parseAndVerifyCertChain).
    """
    directory.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = directory / "token.crt", directory / "token.key"
    if cert_file.exists() and key_file.exists():
        return cert_file, key_file
    now = dt.datetime.now(dt.timezone.utc)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = _name("registry-widgets token signer")
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE).not_valid_after(now + _VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(key_file, _pem_key(key))
    return cert_file, key_file
