# flame_lib.bash - helpers for the flame_*.sh scripts (cprof's HTML flame
# graph and folded stacks); source it after lib.sh and t_init. (Not a .sh
# file, so ctest does not run it as a test.)
#
#   chrome ARGS...    headless chromium, every host name resolving to nothing
#                     (CHROME_RESOLVE: other --host-resolver-rules)
#   chrome_dom FILE OUT [FRAGMENT [PNG]]   load FILE (from disk, file://) in
#                     headless chromium, every host name resolving to nothing;
#                     the DOM after the script ran into OUT, and with PNG a
#                     1400x900 screenshot (in the same run: chromium is slow
#                     to start on a loaded machine)
#   dom_frames DOM    the drawn frames: "NAME<TAB>SHARE<TAB>MATCH<TAB>W" lines
#                     (SHARE of the whole profile, 0-1; MATCH 1 for a search
#                     hit; W the width as a fraction of the view)
#   dom_share FRAMES NAME  percentage (one decimal) of the whole in frames
#                     NAME, from dom_frames' output (python3 once per page:
#                     it takes seconds to start on a loaded machine)
#   dom_attr DOM ID ATTR   an attribute of the element with that id
#   check_offline HTML     the page loads nothing: its CSP, and no URL,
#                     src= or href= outside the profile's data
#   folded_vs_traces PROF TYPE [UNIT]   `cprof report --format folded`
#                     against `go tool pprof -traces -unit=UNIT` (default ns:
#                     times as integers), stack by stack

chrome() {
	local rc=0
	timeout 120 chromium --headless --no-sandbox --disable-gpu --enable-unsafe-swiftshader \
		--disable-dev-shm-usage --no-zygote --user-data-dir="$T/chrome" \
		--host-resolver-rules="${CHROME_RESOLVE:-MAP * ~NOTFOUND}" --window-size=1400,900 \
		--virtual-time-budget=8000 "$@" 2>>"$T/chrome.err" || rc=$?
	[ "$rc" -eq 0 ] || fail "chromium exited $rc: $(grep -v dbus "$T/chrome.err" | tail -3)"
}

chrome_dom() {
	chrome --dump-dom ${4:+--screenshot="$4"} "file://$(readlink -f "$1")${3:+#$3}" >"$2"
	grep -q 'data-ready="1"' "$2" ||
		fail "the page's script did not finish in $1${3:+#$3} (see $2)"
	[ -z "${4:-}" ] || [ -s "$4" ] || fail "chromium took no screenshot of $1"
}

dom_frames() {
	python3 - "$1" <<'PY'
import html.parser, sys
class P(html.parser.HTMLParser):
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "div" and "f" in (a.get("class") or "").split() and "data-name" in a:
            print("%s\t%s\t%s\t%s" % (a["data-name"], a["data-share"], a.get("data-match", "0"), a["data-w"]))
P().feed(open(sys.argv[1], encoding="utf-8").read())
PY
}

dom_share() {
	awk -F '\t' -v n="$2" '$1 == n { s += $2 } END { printf "%.1f\n", 100 * s }' "$1"
}

dom_attr() {
	python3 - "$@" <<'PY'
import html.parser, sys
class P(html.parser.HTMLParser):
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id") == sys.argv[2] and sys.argv[3] in a:
            print(a[sys.argv[3]] or "")
P().feed(open(sys.argv[1], encoding="utf-8").read())
PY
}

check_offline() {
	local page=$1
	grep -qF "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">" "$page" ||
		fail "$page has no CSP meta forbidding every load"
	python3 - "$page" <<'PY' || fail "$page refers to something outside itself"
import re, sys
s = open(sys.argv[1], encoding="utf-8").read()
# the profile's data (names may hold anything) aside
a = s.index('<script type="application/json" id="cprof-data">')
b = s.index("</script>", a)
rest = s[:a] + s[b:]
bad = [m for m in re.findall(r"https?://|\bsrc\s*=|\bhref\s*=|@import|url\(", rest, re.I)]
if bad:
    sys.exit("found %s" % bad)
PY
}

# pprof's -traces: blocks between separator lines, label lines ("%10s:  v"),
# then the frames leaf first ("%10s   name", the value on the first,
# " (inline)" after inlined ones). Summed per stack, root first.
traces_folded() {
	gopprof -symbolize=none -traces -sample_index="$2" -unit="$3" "$1" | python3 -c '
import re, sys, collections
acc = collections.Counter()
stack, value = None, None	# None: before the first separator
def flush():
    if stack and value:
        acc[";".join(reversed(stack))] += value
# a frame: the value (first frame only, may be wider than 10) and three
# spaces; a label line has two after its colon
frame = re.compile(r"^(?: {10}|( *\S+))   (\S.*)$")
for line in sys.stdin.read().split("\n"):
    if line.startswith("-----------+"):
        flush(); stack, value = [], None; continue
    m = frame.match(line)
    if m and stack is not None:
        v, name = (m.group(1) or "").strip(), m.group(2)
        if name.endswith(" (inline)"):
            name = name[:-9]
        if v:
            value = int(float(re.match(r"-?[0-9.]+", v).group(0)))
        stack.append(name)
flush()
for k in sorted(acc):
    if acc[k]:
        print("%s %d" % (k, acc[k]))
'
}

folded_vs_traces() {
	local prof=$1 type=$2 name
	name=$(basename "$prof").$type
	"$CPROF" report --format folded --sample-type "$type" "$prof" >"$T/$name.folded" 2>"$T/err" ||
		fail "cprof report --format folded $prof exited $?: $(cat "$T/err")"
	traces_folded "$prof" "$type" "${3:-ns}" >"$T/$name.traces" || fail "go tool pprof -traces $prof failed"
	[ -s "$T/$name.traces" ] || fail "go tool pprof -traces shows no stack in $prof"
	diff "$T/$name.traces" "$T/$name.folded" >"$T/$name.diff" ||
		fail "folded stacks of $prof differ from go tool pprof -traces (< pprof, > cprof): $(head -20 "$T/$name.diff")"
	note "$name: $(wc -l <"$T/$name.folded") $type stacks, the same as go tool pprof -traces"
}
