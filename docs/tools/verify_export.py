#!/usr/bin/env python3
"""Independent verifier of a ledger export (docs/FORMAT.md section 11).

Written from FORMAT.md alone, not from the Rust code: it recomputes, from the
export's lines, every record's chain hash from its bytes (BLAKE3), every leaf
hash, the Merkle root at every checkpoint's size (RFC 6962 over SHA-256, or
BLAKE3 for a legacy ledger, as the header's tree_hash says), and compares each
with what the export states and what the checkpoint notes sign.

    python3 docs/tools/verify_export.py EXPORT.ndjson [--pubkey checkpoint.pub]
    python3 docs/tools/verify_export.py --self-test   # RFC 6962 known answers

Needs the `blake3` package for the record chain (not in Python's standard
library; SHA-256 comes from hashlib):
    pip install blake3
Checkpoint signatures are checked when the `cryptography` package is present
(pip install cryptography); without it the script says so and checks only
the chain, the hashes and the signed roots.

With --pubkey, the checkpoints must be signed by that key (which the export
header must name); without, by the key the header names.
Exit status: 0 = intact, 1 = a finding (printed with its line and seq),
2 = usage or I/O error.
"""
import base64
import binascii
import hashlib
import json
import struct
import sys

try:
    from blake3 import blake3
except ImportError:
    sys.stderr.write(
        "verify_export.py needs the blake3 package, which is not in Python's "
        "standard library: pip install blake3\n"
    )
    sys.exit(2)

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:
    Ed25519PublicKey = None

EXPORT_FORMAT = "ledger-core/export/v1"
RECORD_TAG = b"ledger-core/record/v1\x00"
EM_DASH = "\u2014 "


def H(data):
    return blake3(data).digest()


def sha256(data):
    return hashlib.sha256(data).digest()


GENESIS = H(b"ledger-core/genesis/v1")

# FORMAT.md section 2: the tree_hash meta entry names the Merkle tree's hash;
# an export without it (written before it existed) is a BLAKE3 tree.
TREE_HASHES = {"rfc6962-sha256": sha256, "blake3": H}


class Finding(Exception):
    def __init__(self, line, seq, reason):
        super().__init__(reason)
        self.line, self.seq, self.reason = line, seq, reason


class Frontier:
    """Roots of the perfect subtrees covering the leaves so far (FORMAT.md section 4),
    hashed with `tree_hash` (a function of bytes)."""

    def __init__(self, tree_hash):
        self.h = tree_hash
        self.size = 0
        self.roots = []

    def leaf_hash(self, data):
        return self.h(b"\x00" + data)

    def node_hash(self, left, right):
        return self.h(b"\x01" + left + right)

    def push(self, leaf):
        h = leaf
        n = self.size
        while n & 1:
            h = self.node_hash(self.roots.pop(), h)
            n >>= 1
        self.roots.append(h)
        self.size += 1

    def root(self):
        if not self.roots:
            return self.h(b"")
        acc = self.roots[-1]
        for r in reversed(self.roots[:-1]):
            acc = self.node_hash(r, acc)
        return acc


def decode_record(data):
    """Walks the bincode layout of FORMAT.md section 3.1; returns (seq, timestamp)."""
    pos = 0

    def take(n):
        nonlocal pos
        if pos + n > len(data):
            raise ValueError("record ends early")
        chunk = data[pos:pos + n]
        pos += n
        return chunk

    def length_prefixed():
        (n,) = struct.unpack("<Q", take(8))
        return take(n)

    if take(1) != b"\x01":
        raise ValueError("record format byte is not 1")
    (seq,) = struct.unpack("<Q", take(8))
    (micros,) = struct.unpack("<q", take(8))
    length_prefixed()  # event type
    tag = take(1)[0]
    if tag == 1:
        take(16)  # subject
    elif tag != 0:
        raise ValueError("bad subject tag")
    length_prefixed()  # actor
    tag = take(1)[0]
    if tag == 1:
        take(16 + 4)  # key id, version
    elif tag != 0:
        raise ValueError("bad key_ref tag")
    length_prefixed()  # payload
    if pos != len(data):
        raise ValueError("%d trailing bytes" % (len(data) - pos))
    return seq, micros


def parse_vkey(text):
    name, key_id_hex, blob64 = text.strip().split("+", 2)
    blob = base64.b64decode(blob64, validate=True)
    if len(blob) != 33 or blob[0] != 0x01:
        raise ValueError("not an Ed25519 verifier key")
    key_id = hashlib.sha256(name.encode() + b"\n" + blob).digest()[:4]
    if key_id.hex() != key_id_hex.lower():
        raise ValueError("key id does not match the key")
    return name, key_id, blob[1:]


def open_note(note, vkey):
    """Parses a signed checkpoint note; checks the signature if possible.
    Returns (origin, tree_size, root)."""
    name, key_id, public = vkey
    split = note.rfind("\n\n")
    if split <= 0 or not note.endswith("\n"):
        raise ValueError("not a signed note")
    text, sigs = note[: split + 1], note[split + 2 :]
    body = text[:-1].split("\n")
    if len(body) < 3:
        raise ValueError("checkpoint body has fewer than three lines")
    origin, size_text, root64 = body[0], body[1], body[2]
    if not size_text.isdigit() or (len(size_text) > 1 and size_text[0] == "0"):
        raise ValueError("bad tree size")
    root = base64.b64decode(root64, validate=True)
    if len(root) != 32:
        raise ValueError("root is not 32 bytes")
    matching = 0
    for line in sigs[:-1].split("\n"):
        if not line.startswith(EM_DASH):
            raise ValueError("bad signature line")
        sig_name, sig64 = line[len(EM_DASH):].split(" ", 1)
        blob = base64.b64decode(sig64, validate=True)
        if sig_name != name or blob[:4] != key_id:
            continue  # another key's line, e.g. a witness cosignature
        matching += 1
        if Ed25519PublicKey is not None:
            try:
                Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], text.encode())
            except InvalidSignature:
                raise ValueError("signature does not verify")
    if matching == 0:
        raise ValueError("no signature line by the verifier key")
    return origin, int(size_text), root


def read_lines(path):
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.endswith(b"\n"):
                raise Finding(number, None, "last line does not end with a newline")
            yield number, raw[:-1].decode("utf-8")


def verify(path, pinned):
    lines = read_lines(path)
    try:
        _, first = next(lines)
    except StopIteration:
        raise Finding(1, None, "the export is empty")
    header = json.loads(first)
    if header.get("export") != EXPORT_FORMAT or header.get("store_format") != 1:
        raise Finding(1, None, "not a %s export" % EXPORT_FORMAT)
    if pinned is not None and header["verifier_key"].strip() != pinned.strip():
        raise Finding(1, None, "the export names another verifier key than the pinned one")
    vkey = parse_vkey(pinned if pinned is not None else header["verifier_key"])
    tree_name = header.get("tree_hash", "blake3")
    if tree_name not in TREE_HASHES:
        raise Finding(1, None, "unknown tree_hash %r" % tree_name)
    tree_hash = TREE_HASHES[tree_name]

    # First pass: the checkpoints (they come after the records).
    checkpoints = {}
    for number, text in read_lines(path):
        if number > 1 and text.startswith('{"checkpoint"'):
            note = json.loads(text)["checkpoint"]
            try:
                origin, size, root = open_note(note, vkey)
            except ValueError as e:
                raise Finding(number, None, "checkpoint: %s" % e)
            if origin != header["origin"]:
                raise Finding(number, None, "checkpoint of another origin")
            checkpoints[size] = (number, root)

    def at_size(size, frontier):
        if size in checkpoints:
            number, root = checkpoints[size]
            if root != frontier.root():
                raise Finding(number, size - 1,
                              "Merkle root of the first %d records differs from the signed checkpoint" % size)

    frontier = Frontier(tree_hash)
    at_size(0, frontier)
    prev, prev_micros, size = GENESIS, None, 0
    checkpoint_lines = 0
    for number, text in lines:
        line = json.loads(text)
        if "checkpoint" in line:
            checkpoint_lines += 1
            continue
        if checkpoint_lines:
            raise Finding(number, None, "record line after the checkpoint lines")
        seq = line["seq"]
        if seq != size:
            raise Finding(number, size, "record %d is missing: this line holds seq %d" % (size, seq))
        record = base64.b64decode(line["record"], validate=True)
        try:
            inner_seq, micros = decode_record(record)
        except (ValueError, struct.error) as e:
            raise Finding(number, seq, "record cannot be decoded: %s" % e)
        if inner_seq != seq:
            raise Finding(number, seq, "the record bytes say seq %d" % inner_seq)
        if bytes.fromhex(line["prev_hash"]) != prev:
            raise Finding(number, seq, "prev_hash is not the previous record's chain hash")
        record_hash = H(RECORD_TAG + prev + record)
        if bytes.fromhex(line["record_hash"]) != record_hash:
            raise Finding(number, seq, "chain hash mismatch: recomputed %s" % record_hash.hex())
        leaf = frontier.leaf_hash(record_hash)
        if bytes.fromhex(line["leaf_hash"]) != leaf:
            raise Finding(number, seq, "leaf hash mismatch")
        if prev_micros is not None and micros < prev_micros:
            raise Finding(number, seq, "timestamp earlier than the previous record's")
        frontier.push(leaf)
        prev, prev_micros, size = record_hash, micros, size + 1
        at_size(size, frontier)
    for tree_size, (number, _) in checkpoints.items():
        if tree_size > size:
            raise Finding(number, size, "a signed checkpoint covers %d records but the export holds %d"
                          % (tree_size, size))
    if header["size"] != size or header["checkpoints"] != checkpoint_lines:
        raise Finding(1, None, "the header's counts do not match the lines")
    return size, frontier.root(), len(checkpoints)


# RFC 6962 known answers from transparency-dev/merkle (testonly/constants.go):
# the roots of the trees of the first 0..8 of these leaves.
RFC6962_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                  "606162636465666768696a6b6c6d6e6f"]
RFC6962_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def self_test():
    """Checks this script's SHA-256 tree against RFC 6962 roots computed elsewhere."""
    frontier = Frontier(sha256)
    roots = [frontier.root().hex()]
    for leaf in RFC6962_LEAVES:
        frontier.push(frontier.leaf_hash(bytes.fromhex(leaf)))
        roots.append(frontier.root().hex())
    if roots != RFC6962_ROOTS:
        print("FAILED: the SHA-256 tree does not match the RFC 6962 vectors")
        return 1
    print("OK: RFC 6962 vectors (sizes 0..8)")
    return 0


def main(argv):
    args = argv[1:]
    if args == ["--self-test"]:
        return self_test()
    pinned = None
    if len(args) == 3 and args[1] == "--pubkey":
        with open(args[2]) as f:
            pinned = f.read().strip()
        args = args[:1]
    if len(args) != 1:
        sys.stderr.write("usage: verify_export.py EXPORT [--pubkey FILE] | --self-test\n")
        return 2
    try:
        size, root, checked = verify(args[0], pinned)
    except Finding as f:
        where = "line %d" % f.line + ("" if f.seq is None else ", seq %d" % f.seq)
        print("FAILED: %s: %s" % (where, f.reason))
        return 1
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as e:
        print("FAILED: malformed export: %r" % e)
        return 1
    except OSError as e:
        sys.stderr.write("error: %s\n" % e)
        return 2
    signatures = "checked" if Ed25519PublicKey is not None else \
        "NOT checked (pip install cryptography)"
    print("OK: %d records, root %s, %d checkpoints (signatures %s)" % (size, root.hex(), checked, signatures))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
