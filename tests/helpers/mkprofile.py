#!/usr/bin/env python3
"""mkprofile.py MODE N OUT: writes a gzipped profile.proto by hand (no
protobuf module): MODE 'bomb' is the amplification input of issue 14 (an
empty string table, then N empty samples: 2 bytes each); MODE a number D is
a valid CPU profile of N samples with stacks D deep over 1,000 functions.
Prints the size of the message before gzip."""
import gzip, sys
def varint(x):
    out = bytearray()
    while True:
        b = x & 0x7f; x >>= 7
        if x: out.append(b | 0x80)
        else: out.append(b); return bytes(out)
def field(num, payload): return varint(num << 3 | 2) + varint(len(payload)) + payload
def vfield(num, v): return varint(num << 3) + varint(v)
def packed(num, vals): return field(num, b''.join(varint(v) for v in vals))
mode, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if mode == 'bomb':
    data = b'\x32\x00' + b'\x12\x00' * n
else:
    strings = [b'', b'cpu', b'nanoseconds'] + [b'func%d' % i for i in range(1000)]
    parts = [field(1, vfield(1, 1) + vfield(2, 2))]
    for i in range(1000):
        parts.append(field(5, vfield(1, i + 1) + vfield(2, i + 3)))
        parts.append(field(4, vfield(1, i + 1) + vfield(3, 0x1000 + i) + field(4, vfield(1, i + 1) + vfield(2, i))))
    depth = int(mode)
    for s in range(n):
        locs = [(s * 7 + k * 13) % 1000 + 1 for k in range(depth)]
        parts.append(field(2, packed(1, locs) + packed(2, [10000000 + s % 5])))
    for s in strings: parts.append(field(6, s))
    data = b''.join(parts)
with gzip.open(out, 'wb', compresslevel=6) as f: f.write(data)
print(len(data))
