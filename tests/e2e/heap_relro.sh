#!/bin/bash
# heap_relro: heap_shares on heapmix built full RELRO (-z relro -z now: its GOT is read-only from the start):
# alloc_space shares within 5 points of the workload's own.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/heap_lib.bash"
t_init

heap_shares_test "$WORKLOAD_DIR/heapmix_relro" relro
pass "relro: alloc_space shares within 5 points of the workload's own"
