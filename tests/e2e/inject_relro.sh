#!/bin/bash
# The injector on a malloc loop (tests/workloads/mallocloop.c) linked with
# full RELRO (-z now: the GOT read-only once started, written through
# /proc/PID/mem) and without RELRO, lazily bound (e2e.inject_attach: PIE and
# non-PIE). While attached the GOT entries of the
# allocation functions point into the injected mapping and the hooks are
# called; after detach /proc/PID/maps and every such GOT entry are as
# before, and the target's own checksums are right.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
t_init
source "$(dirname "$0")/inject_lib.bash"

inj_attach_check mallocloop_now
inj_attach_check mallocloop_lazy
pass "GOT and maps restored, checksums right (full RELRO, lazy without RELRO)"
