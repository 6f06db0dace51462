"""Helpers for the model-file lit tests: make inputs, damage files, compare.

  model_tool.py npy OUT DTYPE D0,D1,...   deterministic input array
  model_tool.py bad-npy OUT               a file that is not .npy
  model_tool.py version IN OUT N          set the format version (nothing else)
  model_tool.py magic IN OUT              break the magic
  model_tool.py truncate IN OUT N         keep the first N bytes
  model_tool.py flip IN OUT SECTION       flip one byte inside a section
  model_tool.py compare A.npy B.npy       same dtype/shape and close values
"""
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
