#!/usr/bin/env python3
"""Independent known-answer vectors for ledger-core's signed checkpoints.

Computes, with Python's `cryptography` package (not the Rust code under test),
the C2SP signed-note / tlog-checkpoint / tlog-cosignature values hard-coded in
crates/ledger-core/src/checkpoint/tests.rs. Run: python3 docs/tools/checkpoint_vectors.py
"""
import base64
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ALG_ED25519 = 0x01
ALG_COSIGNATURE_V1 = 0x04


def raw_public(priv):
    return priv.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def key_id(name, alg, pub):
    # C2SP signed-note: SHA-256(name || 0x0A || type byte || public key)[:4]
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + pub).digest()[:4]


def b64(data):
    return base64.b64encode(data).decode()


def keys(name, seed, alg):
    priv = Ed25519PrivateKey.from_private_bytes(seed)
    pub = raw_public(priv)
    kid = key_id(name, alg, pub)
    vkey = f"{name}+{kid.hex()}+{b64(bytes([alg]) + pub)}"
    skey = f"PRIVATE+KEY+{name}+{kid.hex()}+{b64(bytes([alg]) + seed)}"
    return priv, pub, kid, vkey, skey


def main():
    # Log key.
    name = "example.com/ledger"
    seed = bytes(range(0x01, 0x21))
    priv, pub, kid, vkey, skey = keys(name, seed, ALG_ED25519)
    print("log public key hex :", pub.hex())
    print("log key id         :", kid.hex())
    print("log vkey           :", vkey)
    print("log skey           :", skey)

    # Checkpoint body (C2SP tlog-checkpoint) with one extension line.
    root = bytes(range(0x40, 0x60))
    body = f"{name}\n42\n{b64(root)}\n"
    body_ext = body + "ext: hello world\n"
    for label, text in (("note", body), ("note_ext", body_ext)):
        sig = priv.sign(text.encode())
        note = text + "\n" + f"\u2014 {name} {b64(kid + sig)}\n"
        print(f"{label + ' (repr)':<19}:", repr(note))

    # Cosigner key (C2SP tlog-cosignature, cosignature/v1, type 0x04).
    wname = "witness.example/w1"
    wseed = bytes(range(0x21, 0x41))
    wpriv, wpub, wkid, wvkey, wskey = keys(wname, wseed, ALG_COSIGNATURE_V1)
    print("witness vkey       :", wvkey)
    print("witness skey       :", wskey)
    t = 1_700_000_000
    msg = f"cosignature/v1\ntime {t}\n".encode() + body.encode()
    wsig = wpriv.sign(msg)
    line = f"\u2014 {wname} {b64(wkid + t.to_bytes(8, 'big') + wsig)}\n"
    print("cosignature line   :", repr(line))


if __name__ == "__main__":
    main()
