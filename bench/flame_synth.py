#!/usr/bin/env python3
"""flame_synth.py N OUT.pprof - a synthetic CPU profile with N distinct
stacks, for bench/flame.sh: stacks 6 to 40 frames deep that share their
prefixes as real ones do (each frame drawn from a few likely callees of its
caller), 3000 functions in 40 modules, 8 threads (thread_name labels),
sample types samples/count and cpu/nanoseconds. Written as gzipped
profile.proto by hand (no protobuf module needed)."""
import gzip, random, sys

def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7f
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)

def key(field, wire):
    return varint(field << 3 | wire)

def f_int(field, v):
    return key(field, 0) + varint(v)

def f_bytes(field, b):
    return key(field, 2) + varint(len(b)) + b

def f_packed(field, vals):
    return f_bytes(field, b"".join(varint(v) for v in vals))

def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    rnd = random.Random(n)
    strings, sidx = [""], {"": 0}
    def s(x):
        if x not in sidx:
            sidx[x] = len(strings)
            strings.append(x)
        return sidx[x]
    nfunc, nmod = 3000, 40
    msg = bytearray()
    msg += f_bytes(1, f_int(1, s("samples")) + f_int(2, s("count")))
    msg += f_bytes(1, f_int(1, s("cpu")) + f_int(2, s("nanoseconds")))
    # mappings: 1 the main binary, then libraries
    for m in range(1, nmod + 1):
        name = "/usr/bin/app" if m == 1 else "/usr/lib/libmod%d.so" % m
        msg += f_bytes(3, f_int(1, m) + f_int(2, m << 32) + f_int(3, (m << 32) + (1 << 30)) +
                       f_int(5, s(name)) + f_int(7, 1))
    for fn in range(1, nfunc + 1):
        msg += f_bytes(5, f_int(1, fn) + f_int(2, s("mod%d::function_%d" % (fn % nmod, fn))) +
                       f_int(4, s("src/mod%d/file%d.c" % (fn % nmod, fn % 97))) + f_int(5, fn % 500 + 1))
        mapping = 1 if fn % nmod == 0 or fn < 300 else fn % nmod + 1
        msg += f_bytes(4, f_int(1, fn) + f_int(2, mapping) + f_int(3, (mapping << 32) + fn * 16) +
                       f_bytes(4, f_int(1, fn) + f_int(2, fn % 500 + 10)))
    # each function calls a few others: prefixes are shared
    callees = {fn: [rnd.randrange(1, nfunc + 1) for _ in range(rnd.choice((1, 2, 3, 5, 8)))]
               for fn in range(1, nfunc + 1)}
    seen = set()
    threads = ["worker-%d" % i for i in range(8)]
    while len(seen) < n:
        depth = rnd.randint(6, 40)
        st = [rnd.randrange(1, 4)]
        while len(st) < depth:
            st.append(rnd.choice(callees[st[-1]]))
        t = tuple(st)
        if t in seen:
            continue
        seen.add(t)
        cnt = rnd.choice((1, 1, 1, 2, 3, 5, 10, 40))
        lab = f_int(1, s("thread_name")) + f_int(2, s(rnd.choice(threads)))
        msg += f_bytes(2, f_packed(1, list(reversed(st))) + f_packed(2, [cnt, cnt * 10101010]) +
                       f_bytes(3, lab))
    for x in strings:
        msg += f_bytes(6, x.encode())
    msg += f_int(9, 1700000000 * 10**9) + f_int(10, 10 * 10**9)
    msg += f_bytes(11, f_int(1, s("cpu")) + f_int(2, s("nanoseconds")))
    msg += f_int(12, 10101010)
    # strings added after the table was written would be lost
    assert len(strings) == len(sidx)
    with gzip.open(out, "wb") as f:
        f.write(bytes(msg))

main()
