#!/usr/bin/env python3
"""Writes small valid seeds for the fuzz targets into corpus/<target>/seed-*.

Random bytes rarely get past the headers (the firmware volume checksum, the Spec ID
signature); these seeds start the fuzzer inside the formats.
"""
import hashlib
import json
import os
import struct
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    os.makedirs(os.path.join(HERE, "corpus", target), exist_ok=True)
    with open(os.path.join(HERE, "corpus", target, "seed-" + name), "wb") as f:
        f.write(data)


def guid(text):
    return uuid.UUID(text).bytes_le


def varstore(variables):
    fv_len, header_len = 1024, 72
    hdr = bytearray(header_len)
    hdr[16:32] = guid("fff12b8d-7696-4c8b-a985-2747075b4f50")
    struct.pack_into("<Q4sIH", hdr, 32, fv_len, b"_FVH", 0x0004FEFF, header_len)
    hdr[55] = 2
    struct.pack_into("<II", hdr, 56, 1, fv_len)
    csum = (-sum(struct.unpack("<%dH" % (header_len // 2), bytes(hdr)))) & 0xFFFF
    struct.pack_into("<H", hdr, 50, csum)
    out = bytes(hdr) + guid("aaf32c78-947b-439a-a180-2e144ec37792")
    out += struct.pack("<IBB6x", fv_len - header_len, 0x5A, 0xFE)
    for name, vendor, data in variables:
        n = (name + "\0").encode("utf-16le")
        var = struct.pack("<HBxIQ16sIII", 0x55AA, 0x3F, 7, 0, bytes(16), 0, len(n), len(data))
        var += guid(vendor) + n + data
        var += b"\xff" * (-len(var) % 4)
        out += var
    return out + b"\xff" * (fv_len - len(out))


GLOBAL = "8be4df61-93ca-11d2-aa0d-00e098032b8c"
DB = "d719b2cb-3d3a-4596-a3bc-dad00e67656f"
cert = b"C" * 64
siglist = guid("a5c059a1-94e4-4aa7-87b5-ab155c2bf072") + struct.pack("<III", 28 + 80, 0, 80)
siglist += bytes(16) + cert
write("varstore", "enrolled", cert + varstore([("PK", GLOBAL, b"pk"), ("db", DB, siglist)]))


def eventlog(events):
    spec = b"Spec ID Event03\0" + struct.pack("<IBBBBI", 0, 0, 2, 0, 2, 2)
    spec += struct.pack("<HHHH", 4, 20, 11, 32) + b"\0"
    out = struct.pack("<II20sI", 0, 3, bytes(20), len(spec)) + spec
    for pcr, etype, data in events:
        out += struct.pack("<III", pcr, etype, 2)
        out += struct.pack("<H", 4) + hashlib.sha1(data).digest()
        out += struct.pack("<H", 11) + hashlib.sha256(data).digest()
        out += struct.pack("<I", len(data)) + data
    return out


write("eventlog", "boot", eventlog([
    (0, 3, b"StartupLocality\0\x03"),
    (7, 4, bytes(4)),
    (11, 0xD, ".linux\0".encode("utf-16le")),
]))

write("release", "manifest", json.dumps({
    "version": 3, "kernel": "linux-image-6.1.0-28-cloud-amd64",
    "uki_sha256": "ab" * 32, "pcr7": "07" * 32, "pcr11": "11" * 32,
}).encode())
