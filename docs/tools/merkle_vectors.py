#!/usr/bin/env python3
"""Independent reference for the legacy BLAKE3 Merkle tree of ledger-core (RFC 9162
structure, blake3): the tree of ledgers whose metadata has no `tree_hash` entry or
names `blake3` (docs/FORMAT.md section 4). New ledgers use RFC 6962 over SHA-256,
whose known answers come from transparency-dev/merkle instead.

Straight from RFC 6962 / RFC 9162 section 2.1, recursive, no optimisation:
  leaf  = blake3(0x00 || record_hash)
  node  = blake3(0x01 || left || right)
  MTH([]) = blake3(b"")
  split k = largest power of two strictly smaller than n
Prints the known-answer vectors used by crates/ledger-core (record_hash of
leaf i = blake3(i as 8-byte big-endian)).  Requires: pip install blake3
"""
from blake3 import blake3


def H(b):
    return blake3(b).digest()


def leaf(record_hash):
    return H(b"\x00" + record_hash)


def node(left, right):
    return H(b"\x01" + left + right)


def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d):
    if not d:
        return H(b"")
    if len(d) == 1:
        return d[0]
    k = split(len(d))
    return node(mth(d[:k]), mth(d[k:]))


def path(m, d):  # RFC 9162 2.1.3.1, leaf-to-root order
    if len(d) <= 1:
        return []
    k = split(len(d))
    if m < k:
        return path(m, d[:k]) + [mth(d[k:])]
    return path(m - k, d[k:]) + [mth(d[:k])]


def subproof(m, d, b):  # RFC 9162 2.1.4.1
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = split(n)
    if m <= k:
        return subproof(m, d[:k], b) + [mth(d[k:])]
    return subproof(m - k, d[k:], False) + [mth(d[:k])]


def leaves(n):
    return [leaf(H(i.to_bytes(8, "big"))) for i in range(n)]


if __name__ == "__main__":
    print("empty_root", H(b"").hex())
    d = leaves(100)
    print("leaf_0", d[0].hex())
    for n in (1, 2, 3, 4, 5, 7, 8, 16, 100):
        print(f"root_{n}", mth(d[:n]).hex())
    print("inclusion index=37 tree_size=100")
    for p in path(37, d):
        print(" ", p.hex())
    print("consistency old_size=7 new_size=100")
    for p in subproof(7, d, True):
        print(" ", p.hex())
