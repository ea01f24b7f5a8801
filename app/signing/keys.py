"""Key pairs and what is done with them: make, sign, verify, and keep private keys encrypted at rest.

CA and seal keys are PKCS#8 PEM encrypted with the PKI passphrase (OpenSSL reads them:
``openssl pkey -in ca.key.pem``). A user's remote-signing key is wrapped with AES-256-GCM under a key
derived from the user's PIN (scrypt) and a pepper derived from the PKI passphrase: a stolen database
alone does not allow guessing PINs offline."""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

PIN_WRAP_MAGIC = b"CLPIN1"
# scrypt with n = 2**8 (~0.6 ms here). A 6-digit PIN has only 10**6 values, so no stretching makes an
# offline guess slow; what protects the wrapped keys is the pepper (from the PKI passphrase, never in the
# database). The cost is stored in each wrapped key, so it can be raised without re-issuing.
PIN_SCRYPT_LOG2_N = 8
MIN_PIN_LENGTH = 6


class WrongPin(Exception):
    """The PIN does not open the wrapped key."""


def new_signing_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def sign(key, data: bytes) -> bytes:
    """Sign ``data`` with SHA-256 (ECDSA DER signature, PKCS#1 v1.5 for RSA, or plain Ed25519)."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hashes.SHA256()))
    if isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    raise TypeError(f"unsupported key type {type(key).__name__}")


def signature_holds(public_key, signature: bytes, data: bytes) -> bool:
    """Tell whether ``signature`` over ``data`` verifies with ``public_key``."""
    try:
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def encrypted_pem(key, passphrase: str) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
    )


def load_encrypted_pem(data: bytes, passphrase: str):
    """:raises ValueError: wrong passphrase or not a key."""
    return serialization.load_pem_private_key(data, passphrase.encode("utf-8"))


def pepper(passphrase: str) -> bytes:
    """The server-side secret mixed into every PIN-derived key."""
    return HKDF(hashes.SHA256(), 32, salt=b"catlai-portal", info=b"signing PIN pepper").derive(
        passphrase.encode("utf-8")
    )


def _pin_key(pin: str, salt: bytes, log2_n: int, pepper_bytes: bytes) -> bytes:
    stretched = Scrypt(salt=salt, length=32, n=2**log2_n, r=8, p=1).derive(pin.encode("utf-8"))
    return HKDF(hashes.SHA256(), 32, salt=pepper_bytes, info=b"signing key wrap v1").derive(stretched)


def wrap_with_pin(key, pin: str, pepper_bytes: bytes, context: bytes = b"") -> bytes:
    """Encrypt a private key under the PIN; ``context`` (e.g. the username) is bound as associated data."""
    salt, nonce = os.urandom(16), os.urandom(12)
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    sealed = AESGCM(_pin_key(pin, salt, PIN_SCRYPT_LOG2_N, pepper_bytes)).encrypt(nonce, der, context)
    return PIN_WRAP_MAGIC + struct.pack("B", PIN_SCRYPT_LOG2_N) + salt + nonce + sealed


def unwrap_with_pin(blob: bytes, pin: str, pepper_bytes: bytes, context: bytes = b""):
    """:raises WrongPin: the PIN (or the pepper, or the context) is not the one the key was wrapped with."""
    if not blob.startswith(PIN_WRAP_MAGIC) or len(blob) < len(PIN_WRAP_MAGIC) + 1 + 16 + 12 + 16:
        raise WrongPin("not a PIN-wrapped key")
    at = len(PIN_WRAP_MAGIC)
    log2_n = blob[at]
    salt, nonce, sealed = blob[at + 1 : at + 17], blob[at + 17 : at + 29], blob[at + 29 :]
    try:
        der = AESGCM(_pin_key(pin, salt, log2_n, pepper_bytes)).decrypt(nonce, sealed, context)
    except InvalidTag:
        raise WrongPin("wrong PIN") from None
    return serialization.load_der_private_key(der, None)
