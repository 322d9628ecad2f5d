#!/bin/bash
# tools/screenshots.sh [BUILD_DIR] — writes screenshots of the viewer's main
# states to data/screenshots/ (used by the README and the metainfo).
#
# Images: when ../shared/data/herlev exists, a few Herlev cells are linked
# into a temporary folder (never copied into the repository); otherwise
# synthetic cells. Model: models/herlev7.safetensors when it exists,
# otherwise a random-weight model (the screenshots then show the UI, not
# meaningful predictions).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-app}
shot=$root/../shared/tools/screenshot
out=$root/data/screenshots
demo=$build/tests/gui/di-demo
make_fixtures=$build/tests/gui/di-make-fixtures

for f in "$shot" "$demo" "$make_fixtures"; do
  [ -x "$f" ] || { echo "missing $f (build with: ninja -C $build)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

"$make_fixtures" "$tmp" 24 >/dev/null

model=$root/models/herlev7.safetensors
[ -f "$model" ] || model=$tmp/cbam-random.safetensors

images=$tmp/cells
herlev=$root/../shared/data/herlev
if [ -d "$herlev" ]; then
  images=$tmp/herlev
  mkdir -p "$images"
  for class in "$herlev"/*/; do
    n=0
    for f in "$class"*; do
      ln -s "$f" "$images/$(basename "$class")-$(basename "$f")"
      n=$((n + 1))
      [ $n -ge 4 ] && break
    done
  done
fi

printf 'not an image\n' > "$tmp/broken.png"

export GSETTINGS_BACKEND=memory GSETTINGS_SCHEMA_DIR=$build/data GTK_A11Y=none NO_AT_BRIDGE=1

take () {  # NAME SECONDS STATE MODEL PATH...
  local name=$1 secs=$2; shift 2
  "$shot" "$out/$name.png" "$secs" "$demo" "$@"
}

take overlay 45 overlay "$model" "$images"
take cbam 50 cbam "$model" "$images"
take zoom 50 zoom "$model" "$images"
take gallery 6 gallery "$model" "$images"
take relabel 50 relabel "$model" "$images"
take preferences 12 preferences "$model" "$images"
take fusion 100 fusion "$model" "$images"
# a liquid-based-cytology field: scan it tile by tile, and classify a region
lbc=$root/../shared/data/lbc/HSIL
if [ -d "$lbc" ] && [ -f "$root/models/lbc4.safetensors" ]; then
  # linked into the temporary folder: the viewer keeps its case beside the
  # images, and ../shared/data stays untouched
  mkdir -p "$tmp/field"
  field=$(ls "$lbc" | grep -i '\.jpe\?g$' | head -1)
  ln -s "$lbc/$field" "$tmp/field/hsil-field.jpg"
  take scan 60 scan "$root/models/lbc4.safetensors" "$tmp/field/hsil-field.jpg"
  take region 40 region "$root/models/lbc4.safetensors" "$tmp/field/hsil-field.jpg"
else
  take scan 60 scan "$model" "$tmp/cells"
  take region 40 region "$model" "$tmp/cells"
fi
take shortcuts 6 shortcuts none
take no-model 8 no-model none "$images"
take error 8 error none "$tmp/broken.png"

# The window only: crop the 1400x900 root window to what the app covers.
echo "screenshots in $out"
