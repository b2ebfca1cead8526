#!/usr/bin/env bash
# Checks a report's index.html (or a comparison's compare.html) in headless Chromium, offline:
#   scripts/check-html.sh REPORT_DIR            # REPORT_DIR/index.html, a run's page
#   scripts/check-html.sh COMPARE_DIR compare.html   # the page of `minebench compare --out`
# - the page loads and renders (a DOM dump with the page's heading: "minebench report" or
#   "minebench compare"),
# - every <img> loaded (a copy of the page with a tiny inline script marks broken images; the
#   copy lives in a temp dir and points back at the directory with <base href>, so the
#   directory is not touched),
# - no console errors or failed resource loads (Chromium's stderr log),
# - no external URL in any src/href,
# - every local href/src names a file that exists,
# - a screenshot (1280x2000) is written, to $CHECK_HTML_SCREENSHOT or by default
#   ${TMPDIR:-/tmp}/minebench-check-<dir name>.png (printed; never inside the directory).
# Prints "N passed, M failed" and exits 1 if anything failed, 2 on bad usage.
# Needs Debian's `chromium` (apt-get install -y chromium).
set -u

if [ $# -lt 1 ] || [ $# -gt 2 ] || [ ! -d "$1" ]; then
    echo "usage: $0 DIR [PAGE]   (a directory holding PAGE, default index.html)" >&2
    exit 2
fi
dir=$(cd "$1" && pwd)
name=${2:-index.html}
case "$name" in
    */*|.*) echo "PAGE must be a file name in DIR, not $name" >&2; exit 2 ;;
esac
page="$dir/$name"
if [ ! -f "$page" ]; then
    echo "$page: no such file (run \`minebench render REPORT.json\` or \`minebench compare A B --out DIR\` first)" >&2
    exit 2
fi
case "$name" in
    compare.html) heading='<h1>minebench compare' ;;
    *) heading='<h1>minebench report' ;;
esac
chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$chrome" ]; then
    echo "chromium not found: apt-get update && apt-get install -y chromium" >&2
    exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
screenshot=${CHECK_HTML_SCREENSHOT:-${TMPDIR:-/tmp}/minebench-check-$(basename "$dir").png}
passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok    $1"; }
fail() { failed=$((failed + 1)); echo "FAIL  $1"; }

# Offline and quiet: no network services, no first-run UI, a throw-away profile. The virtual
# time budget lets every local image load (or fail) and the load handler run before the dump.
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
       --disable-component-update --no-first-run --disable-sync --disable-extensions
       --disable-default-apps --user-data-dir="$work/profile" --virtual-time-budget=5000
       --enable-logging=stderr --v=0)

# 1. External references: the page must work from a CI artefact without a network.
external=$(grep -oiE '(src|href)="(https?:)?//[^"]*"' "$page" || true)
if [ -z "$external" ]; then
    pass "no external src/href"
else
    fail "external references: $(echo "$external" | tr '\n' ' ')"
fi

# 1b. Local links: every relative src/href (fragment and query cut off, %XX decoded) exists.
missing=""
while IFS= read -r ref; do
    target=${ref%%#*}
    target=${target%%\?*}
    [ -z "$target" ] && continue
    case "$target" in *:*) continue ;; esac
    target=$(printf '%b' "${target//%/\\x}")
    [ -e "$dir/$target" ] || missing="$missing $ref"
done < <(grep -oE '(src|href)="[^"]*"' "$page" | sed -E 's/^(src|href)="(.*)"$/\2/')
if [ -z "$missing" ]; then
    pass "every local link resolves"
else
    fail "links to missing files:$missing"
fi

# 2. Load a marked copy and dump the DOM after load.
probe="$work/check.html"
marker='<script>window.addEventListener("load",function(){var imgs=document.images,bad=[];for(var i=0;i<imgs.length;i++){if(!imgs[i].complete||imgs[i].naturalWidth===0){bad.push(imgs[i].getAttribute("src"));}}document.body.setAttribute("data-img-total",String(imgs.length));document.body.setAttribute("data-img-broken",bad.join(" "));document.body.setAttribute("data-checked","yes");});</script>'
# <base> right after <head>, the marker before </body>; the page itself stays as written.
awk -v base="<base href=\"file://$dir/\">" -v marker="$marker" '
    { line = $0 }
    !b && sub(/<head>/, "<head>" base, line) { b = 1 }
    sub(/<\/body>/, marker "</body>", line)
    { print line }' "$page" > "$probe"

"$chrome" "${flags[@]}" --dump-dom "file://$probe" > "$work/dom.html" 2> "$work/dom.log"
rc=$?
if [ $rc -eq 0 ] && grep -q "$heading" "$work/dom.html"; then
    pass "page loads (DOM has the heading ${heading#<h1>})"
else
    fail "page did not load (chromium exit $rc); log: $(tail -n 3 "$work/dom.log" | tr '\n' ' ')"
fi

if grep -q 'data-checked="yes"' "$work/dom.html"; then
    total=$(grep -oE 'data-img-total="[0-9]+"' "$work/dom.html" | grep -oE '[0-9]+')
    broken=$(grep -oE 'data-img-broken="[^"]*"' "$work/dom.html" | sed -E 's/data-img-broken="(.*)"/\1/')
    if [ -z "$broken" ] && [ "${total:-0}" -gt 0 ]; then
        pass "all $total images loaded"
    elif [ -z "$broken" ]; then
        fail "the page has no images (no chart was drawn?)"
    else
        fail "images did not load: $broken"
    fi
else
    fail "the image check script did not run (page load did not finish)"
fi

# 3. Console errors and failed loads, from Chromium's own log of the page.
errors=$(grep -E 'CONSOLE|Uncaught|Failed to load resource|ERR_FILE_NOT_FOUND' "$work/dom.log" || true)
if [ -z "$errors" ]; then
    pass "no console errors"
else
    fail "console: $(echo "$errors" | head -n 5 | tr '\n' ' ')"
fi

# 4. A screenshot of the page as written (not the marked copy).
rm -f "$screenshot"
"$chrome" "${flags[@]}" --hide-scrollbars --window-size=1280,2000 --screenshot="$screenshot" \
    "file://$page" > "$work/shot.out" 2> "$work/shot.log"
if [ -s "$screenshot" ] && [ "$(head -c 8 "$screenshot" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]; then
    pass "screenshot $screenshot ($(wc -c < "$screenshot") bytes)"
else
    fail "no screenshot written; log: $(tail -n 3 "$work/shot.log" | tr '\n' ' ')"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
