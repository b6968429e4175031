#!/usr/bin/env bash
# The manual pages (man/*.1, man/*.7) against the tools: every option that
# --help lists is in the page's OPTIONS and nothing else is, the defaults
# --help gives are in the page's entry for the option, the exit codes are the
# same set; the pages render without a warning (when groff and man-db are
# installed); make install puts the tools, the schema and the pages in place.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. tests/lib.sh

TOOLS=(kcat-in validate persist route retry kafka-produce)

# --- what --help says --------------------------------------------------------
# The option table: lines indented 1-8 spaces that start with an option
# (continuation lines are indented further, and may start with one too).
help_opts() { # TOOL: its options, one a line, sorted
	"$BUILD/bin/$1" --help |
		grep -oE '^ {1,8}(-[A-Za-z], )?--?[A-Za-z0-9][A-Za-z0-9-]*' |
		tr -s ' ,' '\n' | grep -E '^-' | sort -u
}
# help_entries TOOL: each option entry on one line (continuations joined)
help_entries() {
	"$BUILD/bin/$1" --help | awk '
		{ match($0, /^ */); ind = RLENGTH }	# (mawk has no {m,n})
		ind >= 1 && ind <= 8 && substr($0, ind + 1, 1) == "-" { if (e != "") print e; e = $0; next }
		ind >= 9 && e != "" { sub(/^ +/, " "); e = e $0; next }
		{ if (e != "") print e; e = "" }
		END { if (e != "") print e }'
	[ "${PIPESTATUS[0]}" = 0 ]
}
# help_exit TOOL: the exit codes of the "Exit:" paragraph, one a line, sorted
help_exit() {
	"$BUILD/bin/$1" --help | awk '/^Exit:/ { on = 1 } on && /^$/ { on = 0 } on { printf "%s ", $0 }' |
		grep -oE '(Exit:|,) [0-9]+ ' | grep -oE '[0-9]+' | sort -un
}

# --- what the page says --------------------------------------------------------
# roff_text: escapes and fonts dropped, "\-" as "-", quotes and macro names gone
roff_text() {
	sed -E -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\[&|^]//g' -e 's/\\e/\\/g' -e 's/"//g' \
		-e 's/^\.[A-Za-z]+ ?//'
}
# section PAGE NAME: the roff source of one .SH section
section() {
	awk -v s="$2" '/^\.SH / { on = ($0 == ".SH " s || $0 == ".SH \"" s "\"") ; next } on' "$1"
}
# tags PAGE NAME: the tag line of each .TP entry of a section, cleaned
tags() { section "$1" "$2" | awk 'tp { print; tp = 0 } /^\.TP/ { tp = 1 }' | roff_text; }
man_opts() { # PAGE: the options tagged in OPTIONS, one a line, sorted
	tags "$1" OPTIONS | tr ' ,' '\n' | grep -E '^--?[A-Za-z]' |
		grep -E '^(-[A-Za-z]|--[a-z0-9][a-z0-9-]*)$' | sort -u
}
man_exit() { tags "$1" "EXIT STATUS" | grep -oE '^ *[0-9]+ *$' | tr -d ' ' | sort -un; }
# man_entry PAGE OPTION: the text of OPTION's entry in OPTIONS, on one line
man_entry() {
	section "$1" OPTIONS | awk -v o="$2" '
		/^\.TP/ { on = 0; tp = 1; next }
		tp { tp = 0; t = $0; gsub(/\\-/, "-", t); gsub(/\\f[BIRP]|"/, "", t)
		     n = split(t, w, /[ ,]+/); for (i = 1; i <= n; i++) if (w[i] == o) on = 1 }
		on' | roff_text | tr '\n' ' '
}

for t in "${TOOLS[@]}"; do
	page=man/$t.1
	if [ ! -f "$page" ]; then
		fail "$page exists"
		continue
	fi
	ok test -x "$BUILD/bin/$t" "$t is built"
	hopts=$(help_opts "$t")
	mopts=$(man_opts "$page")
	isnt "$hopts" "" "$t --help lists options"
	is "$(comm -23 <(echo "$hopts") <(echo "$mopts") | tr '\n' ' ')" "" \
		"$page: every option of $t --help is in OPTIONS"
	is "$(comm -13 <(echo "$hopts") <(echo "$mopts") | tr '\n' ' ')" "" \
		"$page: every option in OPTIONS is in $t --help"
	# No option named anywhere in the page (synopsis, prose, examples) that
	# the tool does not have.
	stale=$(roff_text < "$page" | grep -oE '(^|[^-A-Za-z0-9])--[a-z0-9][a-z0-9-]*' |
		grep -oE -- '--[a-z0-9-]+' | sort -u | comm -23 - <(echo "$hopts") | tr '\n' ' ')
	is "$stale" "" "$page: names no long option $t lacks"
	# Defaults: each "default X" and "else X" of an entry of --help is in the
	# page's entry for that option.
	missing='' checked=0
	while IFS= read -r e; do
		opt=$(sed -E 's/^ +//; s/^-[A-Za-z], //; s/^(--?[A-Za-z0-9-]+).*/\1/' <<< "$e")
		body=$(man_entry "$page" "$opt")
		for v in $(grep -oE '(default:?|else) +\$?[A-Za-z0-9_][A-Za-z0-9_./:-]*' <<< "$e" |
			sed -E 's/^(default:?|else) +\$?//; s/[.:]$//'); do
			checked=$((checked + 1))
			grep -qwF -- "$v" <<< "$body" || missing+="$opt=$v "
		done
	done < <(help_entries "$t")
	isnt "$checked" 0 "$t --help gives defaults"
	is "$missing" "" "$page: the defaults of $t --help ($checked) are in the option entries"
	is "$(man_exit "$page" | tr '\n' ' ')" "$(help_exit "$t" | tr '\n' ' ')" \
		"$page: EXIT STATUS has the codes of $t --help"
	ok grep -q "^\\.TH $(tr a-z A-Z <<< "$t") 1 " "$page" "$page: .TH names $t, section 1"
	ok grep -q "^$t \\\\- " <(section "$page" NAME) "$page: NAME is \"$t \\- summary\""
done

# --- every page -------------------------------------------------------------------
pages=(man/*.[1-9])
ok test -f man/event-processor.7 "man/event-processor.7 exists"
for p in "${pages[@]}"; do
	for s in NAME DESCRIPTION "SEE ALSO"; do
		ok grep -qx "\\.SH \"\\?$s\"\\?" "$p" "$p: has $s"
	done
	is "$(LC_ALL=C grep -nP '[^\x00-\x7f]' "$p")" "" "$p: ASCII only (groff escapes for the rest)"
done
for s in DESCRIPTION RECORDS "DELIVERY GUARANTEES"; do
	ok grep -qx "\\.SH \"\\?$s\"\\?" man/event-processor.7 "event-processor.7: has $s"
done

if command -v groff > /dev/null; then
	for p in "${pages[@]}"; do
		w=$(LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$p" 2>&1)
		is "$w" "" "$p: groff -man -ww renders without a warning"
	done
else
	skip "groff not installed (Debian: groff-base)"
fi
if command -v man > /dev/null && command -v lexgrog > /dev/null; then
	for p in "${pages[@]}"; do
		out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$p" 2> "$T/man.err" < /dev/null)
		is "$(cat "$T/man.err")" "" "$p: man -l --warnings says nothing"
		ok grep -q '^NAME' <<< "$out" "$p: man -l renders it"
		name=$(basename "$p"); name=${name%.*}
		like "$(lexgrog "$p")" "\"$name - " "$p: whatis/apropos can read its NAME (lexgrog)"
	done
else
	skip "man-db not installed"
fi

# --- make install --------------------------------------------------------------
# -o all: install what `make check` has built; the test never builds (nor
# mixes a plain build into a sanitizer one).
if with_timeout 60 make -s -C "$ROOT" -o all install PREFIX="$T/p" BUILD="$BUILD" > "$T/install.out" 2>&1; then
	pass "make install PREFIX=\$T/p"
	for t in "${TOOLS[@]}"; do
		ok test -x "$T/p/bin/$t" "installed bin/$t"
		ok cmp -s "man/$t.1" "$T/p/share/man/man1/$t.1" "installed share/man/man1/$t.1"
	done
	ok cmp -s man/event-processor.7 "$T/p/share/man/man7/event-processor.7" \
		"installed share/man/man7/event-processor.7"
	ok cmp -s schema/event.schema.json "$T/p/share/event-processor/event.schema.json" \
		"installed share/event-processor/event.schema.json"
	is "$(stat -c %a "$T/p/share/man/man1/validate.1" 2> /dev/null)" 644 "man pages installed mode 644"
	ok quietly "$T/p/bin/validate" examples/events.txt "the installed validate finds the installed schema"
	if command -v man > /dev/null; then
		is "$(man -M "$T/p/share/man" -w route 2> /dev/null)" "$T/p/share/man/man1/route.1" \
			"man -M PREFIX/share/man finds route(1)"
		is "$(man -M "$T/p/share/man" -w 7 event-processor 2> /dev/null)" \
			"$T/p/share/man/man7/event-processor.7" "man -M PREFIX/share/man finds event-processor(7)"
	else
		skip "man-db not installed"
	fi
else
	fail "make install PREFIX=\$T/p"
	diag "$(tail -5 "$T/install.out")"
fi
if with_timeout 60 make -s -C "$ROOT" -o all install DESTDIR="$T/d" PREFIX=/usr BUILD="$BUILD" > "$T/install.out" 2>&1; then
	ok test -f "$T/d/usr/share/man/man1/kcat-in.1" "make install DESTDIR= puts the pages under DESTDIR"
else
	fail "make install DESTDIR=\$T/d PREFIX=/usr"
	diag "$(tail -5 "$T/install.out")"
fi

done_testing
