"""Ed25519 signatures over release manifests, with keys pinned in the store's config.

A signature is only as good as the key that checks it, so the public key is never taken
from the thing being verified: ``runstate key add PUBLIC.pem`` pins it in
``.runstate/config.json`` under its key id (the first 32 hex digits of the BLAKE3 of the
raw 32-byte public key), and ``verify`` checks each signed release against the pinned key
of that id. A manifest signed with an unpinned key is a verification problem.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from runstate.errors import SigningError
from runstate.state.canonical import hash_bytes

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "generate_key",
    "key_id",
    "load_private_key",
    "load_public_key_raw",
    "sign",
    "verify_signature",
]


def key_id(public_raw: bytes) -> str:
    return hash_bytes(public_raw)[:32]


def _raw_public(private: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SigningError(f"{os.fspath(path)}: cannot read signing key ({exc.strerror})") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError(
            f"{os.fspath(path)}: not an unencrypted PEM private key ({exc})"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(f"{os.fspath(path)}: not an Ed25519 key")
    return key


def load_public_key_raw(path: str | os.PathLike[str]) -> bytes:
    """Raw 32 bytes of an Ed25519 public key from a PEM public key (or private key) file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SigningError(f"{os.fspath(path)}: cannot read key ({exc.strerror})") from None
    if b"PRIVATE KEY" in data:
        return _raw_public(load_private_key(path))
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise SigningError(f"{os.fspath(path)}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(f"{os.fspath(path)}: not an Ed25519 public key")
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def generate_key(private_path: str | os.PathLike[str]) -> tuple[str, str]:
    """Write a new private key (mode 0600) and ``<path>.pub``; return (key id, public path)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private_path = Path(private_path)
    if private_path.exists():
        raise SigningError(f"{private_path}: already exists; not overwriting a key")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    public_path = private_path.with_name(private_path.name + ".pub")
    public_path.write_bytes(
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return key_id(_raw_public(private)), str(public_path)


def sign(private: Ed25519PrivateKey, message: bytes) -> tuple[str, str]:
    """Signature (hex) over ``message`` and the signer's key id."""
    return private.sign(message).hex(), key_id(_raw_public(private))


def verify_signature(public_raw_hex: str, signature_hex: str, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_raw_hex)).verify(
            bytes.fromhex(signature_hex), message
        )
    except (InvalidSignature, ValueError):
        return False
    return True
