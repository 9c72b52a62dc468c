#!/bin/bash
# heap_nonpie: heap_shares on heapmix built non-PIE (fixed addresses, lazy binding):
# alloc_space shares within 5 points of the workload's own.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/heap_lib.bash"
t_init

heap_shares_test "$WORKLOAD_DIR/heapmix_nonpie" nonpie
pass "nonpie: alloc_space shares within 5 points of the workload's own"
