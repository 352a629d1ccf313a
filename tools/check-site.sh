#!/usr/bin/env bash
# Open pages of the built pkgdown site in headless Chromium, offline, and
# fail if a page logs a JavaScript error, shows no figure (home page) or
# shows raw LaTeX (checked on the DOM after the page's scripts ran).
#   bash tools/check-site.sh SITE_DIR
set -euo pipefail
site=$1
here=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
status=0
for page in index.html articles/glorot-figures.html; do
  name=$(basename "$page" .html)
  profile=$(mktemp -d)
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
    --enable-logging=stderr --v=0 --virtual-time-budget=5000 \
    --dump-dom "file://$site/$page" > "$out/$name.dom.html" 2> "$out/$name.log" || true
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$profile" \
    --window-size=1200,1600 --screenshot="$out/$name.png" "file://$site/$page" \
    >/dev/null 2>&1 || true
  rm -rf "$profile"
  if [ ! -s "$out/$name.dom.html" ]; then
    echo "site: $page did not render" >&2; status=1; continue
  fi
  if grep -q "Uncaught\|CONSOLE.*Error" "$out/$name.log"; then
    echo "site: $page logs a JavaScript error:" >&2
    grep "CONSOLE" "$out/$name.log" >&2; status=1
  fi
  imgs=$( (grep -o "<img[^>]*src=\"[^\"]*\.png" "$out/$name.dom.html" || true) | wc -l)
  if [ "$name" = index ] && [ "$imgs" -lt 1 ]; then
    echo "site: the home page shows no figure" >&2; status=1
  fi
  for img in $( (grep -o "<img[^>]*src=\"[^\"]*\.png" "$out/$name.dom.html" || true) | sed 's/.*src="//' | (grep -v "^data:" || true)); do
    [ -f "$site/$(dirname "$page")/$img" ] || { echo "site: $page: missing figure $img" >&2; status=1; }
  done
  if [ "$name" = index ]; then opt=--math-optional; else opt=; fi
  Rscript "$here/check-html.R" $opt "$out/$name.dom.html" || status=1
  echo "site: $page rendered ($imgs figures; screenshot $out/$name.png)"
done
exit $status
