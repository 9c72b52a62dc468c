#!/usr/bin/env python3
"""heap_got.py PID - print the GOT entries a heap sampler may patch, as
they are now in process PID: for every ELF module mapped in it, each
JUMP_SLOT or GLOB_DAT relocation of an allocation function (and every
JUMP_SLOT of libheapmod.so, the module heapmix loads), one line:

    MODULE SYMBOL TYPE ADDRESS VALUE

read from /proc/PID/mem (tests/e2e/heap_restore.sh, heap_kill.sh compare
them before and after cprof). The module's file is read through
/proc/PID/map_files, which works across mount namespaces."""
import os
import re
import subprocess
import sys

HOOKED = {"malloc", "free", "calloc", "realloc", "reallocarray", "posix_memalign",
          "aligned_alloc", "memalign", "valloc", "pvalloc"}


def main():
    pid = int(sys.argv[1])
    first = {}  # path -> (start, range) of its mapping at file offset 0
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) < 6 or not parts[5].startswith("/"):
                continue
            path = parts[5].strip()
            start, end = (int(x, 16) for x in parts[0].split("-"))
            if int(parts[2], 16) == 0 and path not in first:
                first[path] = (start, parts[0])
    out = []
    mem = open(f"/proc/{pid}/mem", "rb")
    mods = {}  # map_files path -> (module path, start)
    for path, (start, rng) in sorted(first.items()):
        if path.endswith(" (deleted)"):
            continue
        mf = f"/proc/{pid}/map_files/{rng}"
        try:
            with open(mf, "rb") as e:
                if e.read(4) != b"\x7fELF":
                    continue
        except OSError:
            continue
        mods[mf] = (path, start)
    if not mods:
        return
    # One readelf for every module (a process each took seconds of a
    # loaded machine's time, heap_kill runs this twice): its output is a
    # "File: NAME" section per module, program headers then relocations.
    text = subprocess.run(["readelf", "-lrW"] + list(mods), capture_output=True, text=True).stdout
    parts = re.split(r"^File: (/proc/\d+/map_files/\S+)\n", text, flags=re.M)
    for mf, sect in zip(parts[1::2], parts[2::2]):
        path, start = mods[mf]
        loads = [int(m.group(1), 16) for m in
                 re.finditer(r"^\s*LOAD\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)", sect, re.M)]
        if not loads:
            continue
        l_addr = start - (min(loads) & ~0xfff)
        mod = os.path.basename(path)
        for m in re.finditer(r"^([0-9a-f]+)\s+[0-9a-f]+\s+R_X86_64_(JUMP_SLO|GLOB_DAT)\S*\s+"
                             r"[0-9a-f]+\s+([^@\s]+)", sect, re.M):
            off, kind, sym = int(m.group(1), 16), m.group(2), m.group(3)
            if sym not in HOOKED and not (mod == "libheapmod.so" and kind == "JUMP_SLO"):
                continue
            addr = l_addr + off
            mem.seek(addr)
            val = int.from_bytes(mem.read(8), "little")
            out.append(f"{mod} {sym} {kind} {addr:#x} {val:#x}")
    print("\n".join(out))


main()
