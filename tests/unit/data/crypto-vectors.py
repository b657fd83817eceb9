#!/usr/bin/env python3
# crypto-vectors.py - writes tests/unit/data/crypto-vectors.json, the test vectors of pgpitr's
# encryption (docs/encryption.md), from the documented format alone: this is a second,
# independent implementation (Python's `cryptography`, not pgpitr's C), and
# tests/unit/test_crypto_stream.c / test_crypto_keys.c check the C code against its output.
# Run it again only when the format changes (then the format version must change too):
#     python3 tests/unit/data/crypto-vectors.py > tests/unit/data/crypto-vectors.json
import hashlib
import hmac
import json
import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt


def hkdf(ikm, salt, info, n=32):
    return HKDF(algorithm=hashes.SHA256(), length=n, salt=salt, info=info).derive(ikm)


def encrypt_object(repo_key, name, shift, rnd, plaintext):
    """header || chunks, as docs/encryption.md says."""
    header = b"PGPITRE" + bytes([1, shift]) + rnd
    assert len(header) == 48
    salt, prefix = rnd[:32], rnd[32:]
    key = hkdf(repo_key, salt, b"pgpitr/v1/object-key")
    ad = header + name.encode()
    size = 1 << shift
    chunks = [plaintext[i:i + size] for i in range(0, len(plaintext), size)] or [b""]
    out = header
    for i, chunk in enumerate(chunks):
        final = i == len(chunks) - 1
        nonce = prefix + struct.pack(">I", i) + bytes([1 if final else 0])
        out += AESGCM(key).encrypt(nonce, chunk, ad)
    return out


def keyed_name(repo_key, content):
    name_key = hkdf(repo_key, None, b"pgpitr/v1/name")
    return hmac.new(name_key, hashlib.sha256(content).digest(), hashlib.sha256).hexdigest()


def key_doc(master, repo_key, nonce, scrypt=None):
    """The key document; master is the key, or the passphrase when scrypt is given."""
    doc = {"format": "pgpitr-repository-key", "version": 1, "cipher": "aes-256-gcm",
           "master": "passphrase" if scrypt else "key"}
    if scrypt:
        salt, n, r, p = scrypt
        master = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(master)
        doc["scrypt"] = {"salt": salt.hex(), "n": n, "r": r, "p": p}
    kek = hkdf(master, None, b"pgpitr/v1/key-wrap")
    doc["check"] = hkdf(master, None, b"pgpitr/v1/key-check", 16).hex()
    doc["nonce"] = nonce.hex()
    doc["wrapped"] = AESGCM(kek).encrypt(nonce, repo_key, b"pgpitr-repository-key/v1").hex()
    return doc


repo_key = bytes(range(32))
rnd = bytes(range(0x80, 0x80 + 39))
text = b"".join(b"pgpitr test vector, line %02d\n" % i for i in range(12))
objects = []
for name, shift, plaintext in [
    ("empty", 16, b""),
    ("wal/000000010000000000000001.zst", 6, text[:150]),
    ("two-full-chunks", 6, text[:128]),
    ("one-byte", 16, b"x"),
]:
    objects.append({"name": name, "shift": shift, "random": rnd.hex(),
                    "plaintext": plaintext.hex(),
                    "object": encrypt_object(repo_key, name, shift, rnd, plaintext).hex()})

print(json.dumps({
    "repo_key": repo_key.hex(),
    "objects": objects,
    "names": [{"content": c.hex(), "name": keyed_name(repo_key, c)}
              for c in [b"", b"hello", text]],
    "key_docs": [
        {"master_key": (b"\x42" * 32).hex(),
         "doc": key_doc(b"\x42" * 32, repo_key, bytes(range(12)))},
        {"passphrase": "correct horse battery staple",
         "doc": key_doc(b"correct horse battery staple", repo_key, bytes(range(12, 24)),
                        (bytes(range(16)), 16384, 8, 1))},
    ],
}, indent=2, sort_keys=True))
