#!/bin/bash
# run-gui-test.sh PROGRAM [ARGS...] — runs a GUI test on the X display in
# $DISPLAY, else under xvfb-run; exits 77 (skipped) when neither exists.
set -u
if [ -n "${DISPLAY:-}" ]; then
  exec "$@"
fi
if command -v xvfb-run >/dev/null 2>&1; then
  exec xvfb-run -a -s "-screen 0 1400x900x24" "$@"
fi
echo "1..0 # SKIP no X display and no xvfb-run: cannot run GUI tests"
exit 77
