#!/bin/bash
# heap_pie: heap_shares on heapmix built PIE without RELRO, lazy binding:
# alloc_space shares within 5 points of the workload's own.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/heap_lib.bash"
t_init

heap_shares_test "$WORKLOAD_DIR/heapmix_pie" pie
pass "pie: alloc_space shares within 5 points of the workload's own"
