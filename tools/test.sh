#!/bin/bash
# Runs every test: the release build (all suites, GUI under Xvfb), then
# the engine, case and GUI suites again under AddressSanitizer +
# UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/setup.sh
run_x() {
  if [ -n "${DISPLAY:-}" ]; then "$@"; else xvfb-run -a -s "-screen 0 1600x1000x24" "$@"; fi
}
run_x meson test -C build --print-errorlogs --num-processes 2
if [ ! -f build-sanitize/build.ninja ]; then
  meson setup build-sanitize -Dbuildtype=debugoptimized -Db_sanitize=address,undefined \
    -Db_lundef=false
fi
ninja -C build-sanitize
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 DINET_SANITIZED=1
# The engine with leak checking.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  meson test -C build-sanitize --suite engine --print-errorlogs --num-processes 2 --timeout-multiplier 4
# The app's code (case database, report, exports, windows): leak checking
# off, as GLib, GTK and fontconfig keep allocations for the process's life;
# timings are logged, not checked (DINET_SANITIZED).
ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
  run_x meson test -C build-sanitize --suite case --suite gui --print-errorlogs --num-processes 2 \
  --timeout-multiplier 6
