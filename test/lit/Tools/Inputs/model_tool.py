"""Helpers for the model-file lit tests: make inputs, damage files, compare.

  model_tool.py npy OUT DTYPE D0,D1,...   deterministic input array
  model_tool.py bad-npy OUT               a file that is not .npy
  model_tool.py version IN OUT N          set the format version (nothing else)
  model_tool.py magic IN OUT              break the magic
  model_tool.py truncate IN OUT N         keep the first N bytes
  model_tool.py flip IN OUT SECTION       flip one byte inside a section
  model_tool.py tamper IN OUT SECTION     flip one byte and recompute every
                                          checksum (what an attacker can do)
  model_tool.py old-gpu-manifest IN OUT   GPU kernel descriptions as written
                                          before types and Vulkan placements
  model_tool.py compare A.npy B.npy       same dtype/shape and close values
"""
import json
import struct
import sys

import numpy as np


def read(path):
    with open(path, "rb") as f:
        return bytearray(f.read())


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def section(data, name):
    count = struct.unpack_from("<I", data, 12)[0]
    table = struct.unpack_from("<Q", data, 16)[0]
    for i in range(count):
        entry = table + 64 * i
        entry_name = bytes(data[entry + 8:entry + 40]).rstrip(b"\0").decode()
        if entry_name == name:
            return struct.unpack_from("<QQ", data, entry + 40)
    sys.exit("no section " + name)


MASK = (1 << 64) - 1
P1, P2, P3 = 0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9
P4, P5 = 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & MASK


def _round(acc, lane):
    return (_rotl((acc + lane * P2) & MASK, 31) * P1) & MASK


def xxh64(data, seed=0):
    """XXH64 (the format's checksum), as in the reference implementation."""
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + P1 + P2) & MASK, (seed + P2) & MASK, seed, (seed - P1) & MASK]
        while i + 32 <= n:
            for k in range(4):
                v[k] = _round(v[k], struct.unpack_from("<Q", data, i + 8 * k)[0])
            i += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & MASK
        for k in range(4):
            h = ((h ^ _round(0, v[k])) * P1 + P4) & MASK
    else:
        h = (seed + P5) & MASK
    h = (h + n) & MASK
    while i + 8 <= n:
        h ^= _round(0, struct.unpack_from("<Q", data, i)[0])
        h = (_rotl(h, 27) * P1 + P4) & MASK
        i += 8
    if i + 4 <= n:
        h ^= (struct.unpack_from("<I", data, i)[0] * P1) & MASK
        h = (_rotl(h, 23) * P2 + P3) & MASK
        i += 4
    while i < n:
        h ^= (data[i] * P5) & MASK
        h = (_rotl(h, 11) * P1) & MASK
        i += 1
    h ^= h >> 33
    h = (h * P2) & MASK
    h ^= h >> 29
    h = (h * P3) & MASK
    return h ^ (h >> 32)


def rechecksum(data):
    """Recomputes every section's, the table's and the header's checksum."""
    count = struct.unpack_from("<I", data, 12)[0]
    table = struct.unpack_from("<Q", data, 16)[0]
    for i in range(count):
        entry = table + 64 * i
        offset, size = struct.unpack_from("<QQ", data, entry + 40)
        struct.pack_into("<Q", data, entry + 56, xxh64(bytes(data[offset:offset + size])))
    struct.pack_into("<Q", data, 32, xxh64(bytes(data[table:table + 64 * count])))
    struct.pack_into("<Q", data, 56, xxh64(bytes(data[:56])))


def main(argv):
    command = argv[1]
    if command == "npy":
        shape = tuple(int(d) for d in argv[4].split(",") if d)
        n = int(np.prod(shape)) if shape else 1
        values = np.sin(np.arange(n) * 0.37 + 0.2).reshape(shape)
        np.save(argv[2], values.astype(argv[3]))
    elif command == "bad-npy":
        write(argv[2], b"\x93NUMPY\x01\x00garbage")
    elif command == "version":
        data = read(argv[2])
        struct.pack_into("<I", data, 8, int(argv[4]))
        write(argv[3], data)
    elif command == "magic":
        data = read(argv[2])
        data[0:8] = b"NOTEMBER"
        write(argv[3], data)
    elif command == "truncate":
        write(argv[3], read(argv[2])[:int(argv[4])])
    elif command == "flip":
        data = read(argv[2])
        offset, size = section(data, argv[4])
        data[offset + size // 2] ^= 0xFF
        write(argv[3], data)
    elif command == "tamper":
        data = read(argv[2])
        offset, size = section(data, argv[4])
        data[offset + size // 2] ^= 0xFF
        rechecksum(data)
        write(argv[3], data)
    elif command == "old-gpu-manifest":
        # The manifest as ember-compile wrote it before kernel descriptions
        # recorded types and the Vulkan placement: those keys removed, the
        # section padded with spaces to its size.
        data = read(argv[2])
        offset, size = section(data, "manifest")
        manifest = json.loads(bytes(data[offset:offset + size]).decode())
        removed = 0
        for artifact in manifest.get("artifacts", []):
            for kernel in artifact.get("kernels", []):
                removed += kernel.pop("scalar_buffer", None) is not None
                for param in kernel["params"]:
                    for key in ("type", "set", "binding", "offset"):
                        removed += param.pop(key, None) is not None
        text = json.dumps(manifest).encode()
        data[offset:offset + size] = text + b" " * (size - len(text))
        rechecksum(data)
        write(argv[3], data)
        print("removed", removed, "keys")
    elif command == "compare":
        a, b = np.load(argv[2]), np.load(argv[3])
        if a.dtype != b.dtype or a.shape != b.shape:
            sys.exit("differ: %s %s vs %s %s" % (a.dtype, a.shape, b.dtype, b.shape))
        if not np.allclose(a, b, rtol=1e-5, atol=1e-6):
            sys.exit("differ: max abs diff %g" % np.abs(a - b).max())
        print("match", a.dtype, a.shape)
    else:
        sys.exit("unknown command " + command)


if __name__ == "__main__":
    main(sys.argv)
