#!/bin/bash
# The injector on a malloc loop (tests/workloads/mallocloop.c), PIE (lazy
# binding, partial RELRO) and not PIE (e2e.inject_relro: full RELRO and
# no RELRO). While attached the GOT entries of the
# allocation functions point into the injected mapping and the hooks are
# called; after detach /proc/PID/maps and every such GOT entry are as
# before, and the target's own checksums are right.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
source "$(dirname "$0")/inject_lib.bash"

inj_attach_check mallocloop_fp
inj_attach_check mallocloop_nopie
pass "GOT and maps restored, checksums right (PIE, non-PIE)"
