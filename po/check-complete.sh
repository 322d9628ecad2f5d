#!/bin/bash
# check-complete.sh SOURCE_ROOT LANG — fails unless po/LANG.po translates
# every message that xgettext finds in po/POTFILES.in, with none fuzzy.
set -eu
root=$1 lang=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$root"
grep -v '^#' po/POTFILES.in | grep -v '^$' > "$tmp/files"
xgettext --from-code=UTF-8 --add-comments=TRANSLATORS: \
  --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
  --keyword=g_dngettext:2,3 --keyword=ngettext:1,2 \
  --files-from="$tmp/files" -o "$tmp/messages.pot" 2>"$tmp/xgettext.log" || {
    cat "$tmp/xgettext.log"; exit 1; }
msgmerge --quiet --no-fuzzy-matching "po/$lang.po" "$tmp/messages.pot" -o "$tmp/merged.po"
msgfmt --check --statistics -o /dev/null "$tmp/merged.po" 2>"$tmp/stats" || { cat "$tmp/stats"; exit 1; }
cat "$tmp/stats"
if grep -qE 'untranslated|fuzzy' "$tmp/stats"; then
  echo "po/$lang.po is incomplete; missing:"
  msgattrib --untranslated --only-fuzzy "$tmp/merged.po" 2>/dev/null | grep '^msgid' | head -40 || true
  msgattrib --untranslated "$tmp/merged.po" | grep '^msgid' | head -40
  exit 1
fi
