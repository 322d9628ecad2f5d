#!/bin/bash
# test-single-instance.sh DEEPINSIGHT DI_MAKE_FIXTURES — the program is single
# instance: a second `deepinsight --model M FOLDER` hands its model and its
# folder to the running one and exits at once; so does a third
# `deepinsight --case CASE FOLDER`, whose folder goes into CASE. Needs a
# display (the caller provides one) and a D-Bus session (dbus-run-session);
# skips without.
set -u
app=$1 fixtures=$2
echo "1..2"
if ! command -v dbus-run-session >/dev/null 2>&1; then
  echo "ok 1 # SKIP dbus-run-session not installed"
  echo "ok 2 # SKIP dbus-run-session not installed"; exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$fixtures" "$tmp" 3 64 64 64 >/dev/null || { echo "not ok 1 fixtures"; exit 1; }
mkdir -p "$tmp/more" && cp "$tmp/cells/cell-000.png" "$tmp/more/other.png"

cat > "$tmp/run.sh" <<EOS
export G_MESSAGES_DEBUG=di-application,di-window
"$app" --model "$tmp/cbam-random.safetensors" "$tmp/cells" > "$tmp/first.log" 2>&1 &
first=\$!
for i in \$(seq 50); do grep -q "Model loaded" "$tmp/first.log" && break; sleep 0.2; done
timeout 20 "$app" --model "$tmp/resnet50-random.safetensors" "$tmp/more" > "$tmp/second.log" 2>&1
echo "second=\$?" > "$tmp/status"
for i in \$(seq 50); do [ \$(grep -c "Model loaded" "$tmp/first.log") -ge 2 ] && break; sleep 0.2; done
timeout 20 "$app" --case "$tmp/chosen.dicase" "$tmp/more" > "$tmp/third.log" 2>&1
echo "third=\$?" >> "$tmp/status"
for i in \$(seq 50); do grep -q "Opened 1 image(s), case .*/chosen.dicase" "$tmp/first.log" && break; sleep 0.2; done
kill -0 \$first && echo "first=alive" >> "$tmp/status"
kill \$first; wait \$first
EOS
timeout 120 dbus-run-session -- bash "$tmp/run.sh" 2>/dev/null

if grep -q "second=0" "$tmp/status" && grep -q "first=alive" "$tmp/status" &&
   grep -q "Loading model .*resnet50-random" "$tmp/first.log" &&
   grep -q "Opening 1 path(s), the first .*/more" "$tmp/first.log" &&
   ! grep -q "Loading model" "$tmp/second.log"; then
  echo "ok 1 second instance forwarded its model and folder"
else
  echo "not ok 1 single instance"
  sed 's/^/# /' "$tmp/status" "$tmp/first.log" "$tmp/second.log"
  exit 1
fi
if grep -q "third=0" "$tmp/status" &&
   grep -q "Opened 1 image(s), case .*/chosen.dicase" "$tmp/first.log" &&
   [ -f "$tmp/chosen.dicase" ] && ! grep -q "Opened" "$tmp/third.log"; then
  echo "ok 2 a third instance forwarded its --case and folder"
else
  echo "not ok 2 --case in a running instance"
  sed 's/^/# /' "$tmp/status" "$tmp/first.log" "$tmp/third.log"
  exit 1
fi
