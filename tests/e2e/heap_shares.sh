#!/bin/bash
# heap_shares: the allocs profile of a running process (heapmix: malloc
# freed at once, kept, C++ new[], a realloc chain, a dlopen'd module's own
# malloc, one large block a second, in 4 threads) gives each allocating
# function the share of alloc_space the workload measured of itself,
# within 5 points, as go tool pprof -sample_index=alloc_space shows it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/heap_lib.bash"
t_init

heap_shares_test "$WORKLOAD_DIR/heapmix_nofp" shares
pass "alloc_space shares within 5 points of the workload's own"
