#!/usr/bin/env python3
"""Independent verifier of a ledger export (docs/FORMAT.md section 11).

Written from FORMAT.md alone, not from the Rust code: it recomputes, from the
export's lines, every record's chain hash from its bytes (BLAKE3), every leaf
hash, the Merkle root at every checkpoint's size (RFC 6962 over SHA-256, or
BLAKE3 for a legacy ledger, as the header's tree_hash says), and compares each
with what the export states and what the checkpoint notes sign.

    python3 docs/tools/verify_export.py EXPORT.ndjson [--pubkey checkpoint.pub]
        [--trusted KEPT.note] [--allow-unsigned-tail]
    python3 docs/tools/verify_export.py --self-test   # RFC 6962 known answers

Needs the `blake3` package for the record chain (not in Python's standard
library; SHA-256 comes from hashlib):
    pip install blake3
Checkpoint signatures are checked when the `cryptography` package is present
(pip install cryptography); without it the script says so and checks only
the chain, the hashes and the signed roots.

With --pubkey, the checkpoints must be signed by that key (which the export
header must name); without, by the key the header names. Records that no
signed checkpoint covers fail unless --allow-unsigned-tail; with --trusted,
the export must extend the checkpoint kept in that file (FORMAT.md 11.2).
Duplicate JSON members, uppercase hex in hashes, control characters in
notes, a note for another origin than the key's name, and the Ed25519
signatures FORMAT.md section 5 refuses (non-canonical S, small-order R or
A) are findings.
Exit status: 0 = intact, 1 = a finding (printed with its line and seq),
2 = usage or I/O error.
"""
import base64
import binascii
import hashlib
import json
import re
import struct
import sys
import unicodedata

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


def no_duplicates(pairs):
    """object_pairs_hook: FORMAT.md 11.1 allows each member once per object."""
    seen = set()
    for key, _ in pairs:
        if key in seen:
            raise ValueError("duplicate member %r" % key)
        seen.add(key)
    return dict(pairs)


def loads(text):
    return json.loads(text, object_pairs_hook=no_duplicates)


HEX32 = re.compile(r"[0-9a-f]{64}\Z")


def hash_field(line, name):
    """A hash: exactly 64 lowercase hex digits (FORMAT.md 11.1)."""
    value = line[name]
    if not isinstance(value, str) or not HEX32.match(value):
        raise ValueError("%s is not 64 lowercase hex digits" % name)
    return bytes.fromhex(value)


# Ed25519 (RFC 8032) arithmetic, only to refuse what FORMAT.md section 5
# refuses beyond the plain RFC check: small-order R and A, non-canonical S.
ED_P = 2 ** 255 - 19
ED_L = 2 ** 252 + 27742317777372353535851937790883648493
ED_D = (-121665 * pow(121666, ED_P - 2, ED_P)) % ED_P
ED_SQRT_M1 = pow(2, (ED_P - 1) // 4, ED_P)


def ed_decode(encoded):
    """The point (x, y) a 32-byte encoding names, or None."""
    y = int.from_bytes(encoded, "little") & ((1 << 255) - 1)
    sign = encoded[31] >> 7
    y %= ED_P
    u, v = (y * y - 1) % ED_P, (ED_D * y * y + 1) % ED_P
    x2 = u * pow(v, ED_P - 2, ED_P) % ED_P
    x = pow(x2, (ED_P + 3) // 8, ED_P)
    if (x * x - x2) % ED_P != 0:
        x = x * ED_SQRT_M1 % ED_P
    if (x * x - x2) % ED_P != 0:
        return None
    if x == 0 and sign == 1:
        return None
    if x & 1 != sign:
        x = ED_P - x
    return x, y


def ed_add(a, b):
    (x1, y1), (x2, y2) = a, b
    t = ED_D * x1 * x2 * y1 * y2 % ED_P
    x = (x1 * y2 + y1 * x2) * pow(1 + t, ED_P - 2, ED_P) % ED_P
    y = (y1 * y2 + x1 * x2) * pow(1 - t, ED_P - 2, ED_P) % ED_P
    return x, y


def ed_small_order_or_invalid(encoded):
    point = ed_decode(encoded)
    if point is None:
        return True
    for _ in range(3):
        point = ed_add(point, point)
    return point == (0, 1)


def strict_signature_problem(public, signature):
    """What FORMAT.md section 5 refuses before the RFC 8032 equation, or None."""
    if int.from_bytes(signature[32:], "little") >= ED_L:
        return "S is not canonical"
    if ed_small_order_or_invalid(public):
        return "the public key is invalid or of small order"
    if ed_small_order_or_invalid(signature[:32]):
        return "R is invalid or of small order"
    return None


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
    # At the first two "+": the base64 may contain "+" (FORMAT.md 6).
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
    for c in note:
        if c != "\n" and unicodedata.category(c) == "Cc":
            raise ValueError("control character U+%04X" % ord(c))
    split = note.rfind("\n\n")
    if split <= 0 or not note.endswith("\n"):
        raise ValueError("not a signed note")
    text, sigs = note[: split + 1], note[split + 2 :]
    body = text[:-1].split("\n")
    if len(body) < 3:
        raise ValueError("checkpoint body has fewer than three lines")
    origin, size_text, root64 = body[0], body[1], body[2]
    if origin != name:
        raise ValueError("the origin is not the key name")
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
        if len(blob) != 4 + 64:
            raise ValueError("Ed25519 signature is not 64 bytes")
        problem = strict_signature_problem(public, blob[4:])
        if problem is not None:
            raise ValueError("signature refused: %s" % problem)
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


def verify(path, pinned, trusted=None, allow_unsigned_tail=False):
    lines = read_lines(path)
    try:
        _, first = next(lines)
    except StopIteration:
        raise Finding(1, None, "the export is empty")
    try:
        header = loads(first)
    except ValueError as e:
        raise Finding(1, None, "header: %s" % e)
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
        if number > 1 and '"checkpoint"' in text:
            try:
                note = loads(text)["checkpoint"]
            except (ValueError, KeyError, TypeError) as e:
                raise Finding(number, None, "bad checkpoint line: %r" % e)
            try:
                origin, size, root = open_note(note, vkey)
            except ValueError as e:
                raise Finding(number, None, "checkpoint: %s" % e)
            if origin != header["origin"]:
                raise Finding(number, None, "checkpoint of another origin")
            checkpoints[size] = (number, root)

    kept = None
    if trusted is not None:
        try:
            kept = open_note(trusted, vkey)
        except ValueError as e:
            raise Finding(1, None, "the trusted checkpoint does not verify: %s" % e)

    def at_size(size, frontier):
        if kept is not None and kept[1] == size and kept[2] != frontier.root():
            raise Finding(number_of[0], size - 1 if size else None,
                          "the tree of %d records is not the one the trusted checkpoint signs" % size)
        if size in checkpoints:
            number, root = checkpoints[size]
            if root != frontier.root():
                raise Finding(number, size - 1,
                              "Merkle root of the first %d records differs from the signed checkpoint" % size)

    frontier = Frontier(tree_hash)
    number_of = [1]
    at_size(0, frontier)
    prev, prev_micros, size = GENESIS, None, 0
    checkpoint_lines = 0
    for number, text in lines:
        number_of[0] = number
        try:
            line = loads(text)
        except ValueError as e:
            raise Finding(number, None, "not JSON: %s" % e)
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
        stated_prev = hash_field(line, "prev_hash")
        stated_hash = hash_field(line, "record_hash")
        stated_leaf = hash_field(line, "leaf_hash")
        if stated_prev != prev:
            raise Finding(number, seq, "prev_hash is not the previous record's chain hash")
        record_hash = H(RECORD_TAG + prev + record)
        if stated_hash != record_hash:
            raise Finding(number, seq, "chain hash mismatch: recomputed %s" % record_hash.hex())
        leaf = frontier.leaf_hash(record_hash)
        if stated_leaf != leaf:
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
    if kept is not None and kept[1] > size:
        raise Finding(number_of[0], size, "the export holds %d records, fewer than the %d of the "
                      "trusted checkpoint" % (size, kept[1]))
    newest = max(checkpoints) if checkpoints else None
    if not allow_unsigned_tail and (newest is None or newest < size):
        raise Finding(number_of[0], newest, "%d records are covered by no signed checkpoint "
                      "(--allow-unsigned-tail accepts them)" % (size - (newest or 0)))
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
    pinned, trusted, allow = None, None, False
    rest = []
    try:
        while args:
            arg = args.pop(0)
            if arg == "--pubkey":
                with open(args.pop(0)) as f:
                    pinned = f.read().strip()
            elif arg == "--trusted":
                with open(args.pop(0), encoding="utf-8") as f:
                    trusted = f.read()
            elif arg == "--allow-unsigned-tail":
                allow = True
            else:
                rest.append(arg)
    except IndexError:
        rest = []
    except OSError as e:
        sys.stderr.write("error: %s\n" % e)
        return 2
    if len(rest) != 1:
        sys.stderr.write("usage: verify_export.py EXPORT [--pubkey FILE] [--trusted NOTE] "
                         "[--allow-unsigned-tail] | --self-test\n")
        return 2
    try:
        size, root, checked = verify(rest[0], pinned, trusted, allow)
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
