#!/bin/bash
# Runs every test: the release build (all suites, GUI under Xvfb) and the
# engine suite again under AddressSanitizer + UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
run_x() {
  if [ -n "${DISPLAY:-}" ]; then "$@"; else xvfb-run -a -s "-screen 0 1600x1000x24" "$@"; fi
}
run_x meson test -C build --print-errorlogs --num-processes 2
if [ ! -f build-asan/build.ninja ]; then
  meson setup build-asan -Dbuildtype=debugoptimized -Db_sanitize=address,undefined \
    -Db_lundef=false -Dapp=false
fi
ninja -C build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  DINET_SANITIZED=1 meson test -C build-asan --suite engine --print-errorlogs --num-processes 2 \
  --timeout-multiplier 4
