#!/usr/bin/env bash
# Records are I-JSON (RFC 7493) at every stage that parses them: numbers
# exactly by RFC 8259's grammar, no repeated member names at any depth, no
# lone surrogates, no \u0000 in a string. Each refused shape goes through
# validate, and straight into persist and into route (as a file replayed by
# hand would), and each stage refuses it with the same stable _error.code, a
# reason that says where, and the record's _src kept. Nothing of them
# reaches the table or a client's queue; each reaches the DLQ once.
# validate --values compares strings with U+0000 by their whole length.
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh
. tests/lib-route.sh

# ev UID CLIENT EXTRA OFFSET: an event with EXTRA members and kcat-in's _src
ev() {
	printf '{"uid":"%s","context":"monitoramento","event_type":"INSERT","client":"%s","created_at":"2024-09-10T04:17:09Z"%s,"_src":{"topic":"stream_producer","partition":0,"offset":%d}}\n' \
		"$1" "$2" "$3" "$4"
}

# Each refused shape: the record and the code every stage gives it.
: > "$T/bad"
CODES=()
add() { ev "$1" "$2" "$3" "${#CODES[@]}" >> "$T/bad"; CODES+=("$4"); }
add s-01 Client_A ',"n":01' bad_number
add s-m01 Client_A ',"n":-01' bad_number
add s-1dot Client_A ',"n":1.' bad_number
add s-dot5 Client_A ',"n":.5' bad_number
add s-1dote5 Client_A ',"n":[1.e5]' bad_number
add s-2dote Client_A ',"n":2.e-3' bad_number
add s-0dote1 Client_A ',"n":0.e1' bad_number
add s-dupclient Client_A ',"client":"Client_B"' duplicate_name
add s-dupdeep Client_A ',"x":{"y":[{"k":1,"k":2}]}' duplicate_name
add s-hi Client_A ',"s":"\ud800"' lone_surrogate
add s-lo Client_A ',"s":"\udc00\ud800"' lone_surrogate
add 's-nul\u0000a' Client_A '' nul_char
add 's-nul\u0000b' Client_A '' nul_char
N=${#CODES[@]}

# --- validate ------------------------------------------------------------------
"$VALIDATE" < "$T/bad" > "$T/v.out" 2> "$T/v.err"
is "$?" 0 "validate: exit 0"
is "$(wc -l < "$T/v.out")" "$N" "validate: one record out per record in"
for i in $(seq 0 $((N - 1))); do
	line=$(sed -n "$((i + 1))p" "$T/v.out")
	is "$(printf '%s' "$line" | jstr _error.code)" "${CODES[$i]}" "validate: record $((i + 1)) is ${CODES[$i]}"
	like "$(printf '%s' "$line" | jstr _error.reason)" '(at column [0-9]+|in the (top-level )?object)' \
		"validate: record $((i + 1)): the reason says where"
	is "$(printf '%s' "$line" | jstr _src.offset)" "$i" "validate: record $((i + 1)) keeps its _src"
done
like "$(sed -n 8p "$T/v.out" | jstr _error.reason)" '"client" is repeated in the top-level object' \
	"validate: a repeated client is named"
like "$(sed -n 9p "$T/v.out" | jstr _error.reason)" '"k" is repeated in the object at /x/y/0' \
	"validate: a repeat deep down is named by its pointer"

ok start_standins "dynalite and fauxqs started, table and six queues provisioned"

# --- persist, reading the records itself ------------------------------------------
"$PERSIST" < "$T/bad" > "$T/p.out" 2> "$T/p.err"
is "$?" 0 "persist: exit 0"
is "$(wc -l < "$T/p.out")" "$N" "persist: one record out per record in"
for i in $(seq 0 $((N - 1))); do
	line=$(sed -n "$((i + 1))p" "$T/p.out")
	is "$(printf '%s' "$line" | jstr _error.stage)/$(printf '%s' "$line" | jstr _error.code)" \
		"persist/${CODES[$i]}" "persist: record $((i + 1)) is refused as ${CODES[$i]}"
	is "$(printf '%s' "$line" | jstr _src.offset)" "$i" "persist: record $((i + 1)) keeps its _src"
done
ddb_scan pismo > "$T/items"
is "$(grep -c '"s-' "$T/items")" 0 "persist: none of them is in the table"

# --- route, reading the records itself ---------------------------------------------
"$ROUTE" < "$T/bad" > "$T/r.out" 2> "$T/r.err"
is "$?" 0 "route: exit 0"
is "$(wc -l < "$T/r.out")" "$N" "route: one outcome per record"
for i in $(seq 0 $((N - 1))); do
	line=$(sed -n "$((i + 1))p" "$T/r.out")
	is "$(printf '%s' "$line" | jstr _out.queue)/$(printf '%s' "$line" | jstr _error.code)" \
		"dlq.fifo/${CODES[$i]}" "route: record $((i + 1)) goes to the DLQ as ${CODES[$i]}"
	is "$(printf '%s' "$line" | jstr _src.offset)" "$i" "route: outcome $((i + 1)) keeps its _src"
done
drain_all "$T/q"
is "$(cat "$T/q/Client_A.fifo" "$T/q/Client_B.fifo" | wc -l)" 0 "route: nothing in a client's queue"
is "$(wc -l < "$T/q/dlq.fifo")" "$N" "route: each record in the DLQ once"
is "$(wc -l < "$T/q/retry.fifo")" 0 "route: nothing in retry.fifo"

# --- the whole pipe: the two uids that differ after a NUL -------------------------------
"$VALIDATE" < "$T/bad" 2> /dev/null | "$PERSIST" 2> /dev/null | "$ROUTE" > "$T/pipe.out" 2> "$T/pipe.err"
is "${PIPESTATUS[*]}" "0 0 0" "validate | persist | route: exit 0"
is "$(grep -c '"_out":{"queue":"dlq.fifo"' "$T/pipe.out")" "$N" "validate | persist | route: every one to the DLQ"
is "$(grep -c '"code":"nul_char"' "$T/pipe.out")" 2 "the uids with \\u0000 are both refused, not stored as one"
drain_all "$T/q2"
is "$(cat "$T/q2/Client_"*.fifo | wc -l)" 0 "validate | persist | route: nothing in a client's queue"

# --- validate --values: strings with U+0000 compare whole -------------------------------
printf '%s\n' '{"const":"hello\u0000there"}' > "$T/const.json"
printf '%s\n' '{"enum":["a\u0000b","c"]}' > "$T/enum.json"
printf '%s\n' '"hello\u0000there"' '"hello\u0000thera"' '"hello"' '"hellothere"' > "$T/cv"
"$VALIDATE" --values -s "$T/const.json" < "$T/cv" > "$T/cv.out" 2> /dev/null
is "$(sed -n 1p "$T/cv.out")" '"hello\u0000there"' "--values const: the same string with NUL is valid"
for n in 2 3 4; do
	is "$(sed -n "${n}p" "$T/cv.out" | jstr _error.keyword)" const "--values const: line $n (differs at or after the NUL) is invalid"
done
printf '%s\n' '"a\u0000b"' '"a\u0000c"' '"a"' '{"k\u0000":1}' > "$T/ev"
"$VALIDATE" --values -s "$T/enum.json" < "$T/ev" > "$T/ev.out" 2> /dev/null
is "$(sed -n 1p "$T/ev.out")" '"a\u0000b"' "--values enum: a member with NUL is valid"
is "$(sed -n 2p "$T/ev.out" | jstr _error.keyword)" enum "--values enum: a string that differs after the NUL is not"
is "$(sed -n 3p "$T/ev.out" | jstr _error.keyword)" enum "--values enum: the part before the NUL is not"
printf '%s\n' '{"pattern":"^a.b$","maxLength":3}' > "$T/pat.json"
printf '%s\n' '"a\u0000b"' '"a\u0000\u0000b"' > "$T/pv"
"$VALIDATE" --values -s "$T/pat.json" < "$T/pv" > "$T/pv.out" 2> /dev/null
is "$(sed -n 1p "$T/pv.out")" '"a\u0000b"' "--values pattern and maxLength: U+0000 is one character"
like "$(sed -n 2p "$T/pv.out" | jstr _error.reason)" 'a\\u0000\\u0000b' "--values: the reason shows U+0000 as \\u0000"
printf '%s\n' '{"a":01}' '{"a":1,"a":1}' > "$T/vbad"
"$VALIDATE" --values -s "$T/enum.json" < "$T/vbad" > "$T/vbad.out" 2> /dev/null
is "$(jstr _error.code < <(sed -n 1p "$T/vbad.out"))/$(jstr _error.code < <(sed -n 2p "$T/vbad.out"))" \
	bad_number/duplicate_name "--values: numbers and names are checked as for records"

done_testing
