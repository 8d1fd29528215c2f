"""The state directory: DKIM keys, TLS certificate, rendered configs, server data.

Keys are generated once and reused, so a restart or rebuild never changes the
DKIM key that DNS already publishes. Private keys are 0600.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from mailsh_server.protocol import CONFIG_HASH_FILE
from provision.digest import content_hash
from provision.errors import MailshError
from provision.files import ensure_private_key, update_file, write_atomic

SELF_SIGNED_DAYS = 825
RENEW_SELF_SIGNED_DAYS = 30


@dataclass(frozen=True)
class StateDir:
    """Paths inside the state directory (mounted at /var/lib/mailsh in the container)."""

    root: Path

    @property
    def rendered(self) -> Path:
        return self.root / "rendered"

    @property
    def tls_dir(self) -> Path:
        return self.root / "tls"

    @property
    def cert_file(self) -> Path:
        return self.tls_dir / "fullchain.pem"

    @property
    def key_file(self) -> Path:
        return self.tls_dir / "privkey.pem"

    @property
    def server_dir(self) -> Path:
        return self.root / "server"

    @property
    def trusted_dir(self) -> Path:
        return self.root / "trusted"

    @property
    def acme_account_key(self) -> Path:
        return self.root / "acme" / "account-key.pem"

    @property
    def relay_password_file(self) -> Path:
        return self.root / "secrets" / "relay_password"

    def dkim_key_file(self, selector: str) -> Path:
        return self.root / "dkim" / f"{selector}.private"

    def ensure(self) -> None:
        for d in (self.root, self.rendered, self.tls_dir, self.server_dir, self.trusted_dir):
            d.mkdir(parents=True, exist_ok=True)
        # 0711: the request handler (mailsh-server) must reach server/; nothing is listable.
        self.root.chmod(0o711)


@dataclass(frozen=True)
class DkimKey:
    selector: str
    private_pem: bytes = field(repr=False)  # never in a traceback or a test's output

    @property
    def public_b64(self) -> str:
        """The `p=` value: base64 of the DER SubjectPublicKeyInfo."""
        key = serialization.load_pem_private_key(self.private_pem, password=None)
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    @property
    def fingerprint(self) -> str:
        """A short, comparable name for the public key: sha256 of its DER, 16 hex digits."""
        return hashlib.sha256(base64.b64decode(self.public_b64)).hexdigest()[:16]

    @property
    def txt_value(self) -> str:
        return f"v=DKIM1; k=rsa; p={self.public_b64}"


def ensure_dkim_key(state: StateDir, selector: str, bits: int) -> tuple[DkimKey, bool]:
    """Load the selector's key, generating it (PKCS#1 PEM as opendkim-genkey) only once."""
    path = state.dkim_key_file(selector)
    try:
        _, created = ensure_private_key(
            path,
            lambda: rsa.generate_private_key(public_exponent=65537, key_size=bits),
            serialization.PrivateFormat.TraditionalOpenSSL,
        )
    except ValueError as e:
        raise MailshError(
            f"{path}: not a readable private key ({e})",
            hint="restore it from a backup; deleting it changes the DKIM record in DNS",
        ) from None
    return DkimKey(selector, path.read_bytes()), created


def _needs_new_cert(cert_file: Path, names: list[str], now: dt.datetime) -> bool:
    if not cert_file.exists():
        return True
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return True
    have = set(san.get_values_for_type(x509.DNSName))
    remaining = cert.not_valid_after_utc - now
    return have != set(names) or remaining < dt.timedelta(days=RENEW_SELF_SIGNED_DAYS)


def ensure_self_signed(state: StateDir, names: list[str], now: dt.datetime | None = None) -> bool:
    """Create a self-signed certificate for `names` unless a fitting one exists."""
    now = now or dt.datetime.now(dt.UTC)
    if not _needs_new_cert(state.cert_file, names, now):
        return False
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    alt: list[x509.GeneralName] = []
    for n in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(n)))
        except ValueError:
            alt.append(x509.DNSName(n))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SELF_SIGNED_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    install_certificate(
        state,
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    return True


def install_certificate(state: StateDir, fullchain_pem: bytes, key_pem: bytes) -> None:
    """Replace key and chain; the key first, so a crash never pairs a new chain with an old key
    for longer than the two renames."""
    state.tls_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(state.key_file, key_pem, mode=0o600)
    write_atomic(state.cert_file, fullchain_pem, mode=0o644)


def write_rendered(
    directory: Path, files: Mapping[str, str], extra_hash_inputs: Mapping[str, bytes]
) -> str:
    """Write rendered files (only those that changed) and the hash the container compares."""
    for rel, text in files.items():
        update_file(directory / rel, text)
    known = set(files) | {CONFIG_HASH_FILE}
    for stale in directory.rglob("*"):
        if stale.is_file() and stale.relative_to(directory).as_posix() not in known:
            stale.unlink()
    digest = content_hash(
        [(k, v.encode()) for k, v in files.items()] + list(extra_hash_inputs.items())
    )
    write_atomic(directory / CONFIG_HASH_FILE, digest + "\n")
    return digest
