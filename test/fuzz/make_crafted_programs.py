"""Writes hand-made program sections to program_regressions/crafted-*: one
per way MLIR's bytecode reader misbehaves that ProgramBytecode.cpp guards
against and random mutation rarely hits, each a small edit of an exported
program (program_corpus/seed_mlp).

    /usr/bin/python3 test/fuzz/make_crafted_programs.py
"""

import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
STRING, DIALECT, ATTR_TYPE, ATTR_TYPE_OFFSET, IR = 0, 1, 2, 3, 4


def varint(value):
    """MLIR's prefix varint: n bytes hold 7n bits, the low n bits say n."""
    for n in range(1, 9):
        if value < 1 << (7 * n):
            return ((value << n) | (1 << (n - 1))).to_bytes(n, "little")
    return b"\0" + struct.pack("<Q", value)


class Reader:
    def __init__(self, data):
        self.data, self.at = data, 0

    def byte(self):
        self.at += 1
        return self.data[self.at - 1]

    def varint(self):
        first = self.byte()
        if first & 1:
            return first >> 1
        if first == 0:
            self.at += 8
            return struct.unpack_from("<Q", self.data, self.at - 8)[0]
        n = (first & -first).bit_length() - 1
        value = int.from_bytes(self.data[self.at - 1:self.at + n], "little") >> (n + 1)
        self.at += n
        return value


def split(program):
    """(header bytes, [(section id, bytes)]) of unaligned bytecode."""
    r = Reader(program)
    r.at = 4
    r.varint()
    r.at = program.index(b"\0", r.at) + 1
    header, sections = program[:r.at], []
    while r.at < len(program):
        ident = r.byte()
        length = r.varint()
        sections.append((ident, program[r.at:r.at + length]))
        r.at += length
    return header, sections


def join(header, sections):
    return header + b"".join(bytes([i]) + varint(len(d)) + d for i, d in sections)


def attr_entries(sections):
    """(attribute count, type count, [[dialect, [(custom, bytes)]]] groups)."""
    data = dict(sections)
    r = Reader(data[ATTR_TYPE_OFFSET])
    counts = [r.varint(), r.varint()]
    groups, offset = [], 0
    for total in counts:
        seen = 0
        while seen < total:
            dialect, n = r.varint(), r.varint()
            entries = []
            for _ in range(n):
                value = r.varint()
                size = value >> 1
                entries.append([value & 1, data[ATTR_TYPE][offset:offset + size]])
                offset += size
            groups.append([dialect, entries])
            seen += n
    return counts, groups


def with_entries(sections, counts, groups, extra=b""):
    """Sections with the attribute/type tables rebuilt from `groups`."""
    table = varint(counts[0]) + varint(counts[1])
    data = b""
    for dialect, entries in groups:
        table += varint(dialect) + varint(len(entries))
        for custom, entry in entries:
            table += varint(len(entry) << 1 | custom)
            data += entry
    replaced = {ATTR_TYPE: data, ATTR_TYPE_OFFSET: table + extra}
    return [(i, replaced.get(i, d)) for i, d in sections]


def replace(sections, ident, data):
    return [(i, data if i == ident else d) for i, d in sections]


def main():
    with open(os.path.join(HERE, "program_corpus", "seed_mlp"), "rb") as f:
        seed = f.read()
    header, sections = split(seed)
    counts, groups = attr_entries(sections)
    # The first group holds builtin attributes: 0 is UnknownLoc, 1 the
    # FileLineColLoc that locates the operations.
    assert groups[0][1][0][1] == varint(15) and groups[0][1][1][1][:1] == varint(11)

    def edited_attr(index, entry):
        copy = [[d, [list(e) for e in entries]] for d, entries in groups]
        copy[0][1][index][1] = entry
        return join(header, with_entries(sections, counts, copy))

    crafted = {
        # A string of size 0: MLIR's string table makes it SIZE_MAX bytes
        # long and names a dialect with it.
        "empty-string": join(header, replace(sections, STRING, varint(1) + varint(0))),
        # An attribute that contains itself: the reader's deferred-parse
        # worklist retries it forever.
        "attribute-cycle": edited_attr(1, varint(0) + varint(1) + varint(1)),
        # A fused location of one unknown location: FusedLoc::get returns
        # UnknownLoc, which the reader casts to FusedLoc unchecked.
        "fused-location": edited_attr(1, varint(12) + varint(1) + varint(0)),
        # An integer type of 2^30 bits: built unverified; its attributes
        # would be APInts of that size.
        "integer-width": join(header, with_entries(sections, counts, [
            [d, [[c, varint(0) + varint((1 << 30) << 2) if e[:2] == b"\x01\x02" else e]
                 for c, e in entries]] for d, entries in groups])),
        # A group of attribute offsets longer than the table: the reader
        # writes entries past its end.
        "offset-group-overrun": join(header, with_entries(
            sections, counts,
            [[groups[0][0], groups[0][1] + [[1, varint(7)]] * 3]] + groups[1:])),
        # Arguments on the top-level block: the reader defines them before it
        # has a value scope (an empty vector's back()).
        "top-level-arguments": join(header, replace(
            sections, IR, bytes([dict(sections)[IR][0] | 2]) + dict(sections)[IR][1:])),
        # An operation name count of 2^40: the reader reserves that many.
        "operation-name-count": join(header, replace(
            sections, DIALECT, dict(sections)[DIALECT].replace(
                varint(8), varint(1 << 40), 1))),
    }
    folder = os.path.join(HERE, "program_regressions")
    for name, program in crafted.items():
        with open(os.path.join(folder, f"crafted-{name}"), "wb") as f:
            f.write(program)


if __name__ == "__main__":
    main()
