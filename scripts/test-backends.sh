#!/usr/bin/env bash
# Runs the test suite once per forced backend choice, so that every path `auto` can take is
# exercised on a machine that has all the fast backends: nothing hidden, then avx512 hidden,
# then avx512 and sha-ni, then every SIMD backend (MINEBENCH_DISABLE, see src/pow/mod.rs).
#
# Usage: scripts/test-backends.sh [extra cargo test arguments, e.g. --lib pow::]
# Exit status: 0 when every run passed, 1 otherwise (all sets run either way).
set -u
cd "$(dirname "$0")/.."

sets=("" "avx512" "avx512,sha-ni" "avx512,sha-ni,avx2")
# CI has already run the plain `cargo test`: it sets SKIP_DEFAULT_SET=1 to run only the forced sets.
if [ "${SKIP_DEFAULT_SET:-0}" = 1 ]; then
    sets=("${sets[@]:1}")
fi
failed=()
for set in "${sets[@]}"; do
    echo "=== MINEBENCH_DISABLE='${set}' ==="
    # Show which backend `auto` resolves to under this set (the test also checks it).
    if ! MINEBENCH_DISABLE="$set" cargo test --quiet --lib pow::tests::auto_skips_disabled_backends \
        -- --exact --nocapture 2>&1 | grep -E "auto = |FAILED|panicked"; then
        echo "could not determine auto's choice"
    fi
    if MINEBENCH_DISABLE="$set" cargo test "$@"; then
        echo "=== MINEBENCH_DISABLE='${set}': passed ==="
    else
        echo "=== MINEBENCH_DISABLE='${set}': FAILED ==="
        failed+=("'${set}'")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "test-backends: failed with MINEBENCH_DISABLE = ${failed[*]}" >&2
    exit 1
fi
echo "test-backends: all ${#sets[@]} backend sets passed"
