#!/usr/bin/env bash
# scripts/file-source.sh and kafka-produce: lines appended to a file reach
# the topic at once (not in 1 KiB batches), keyed by a member when asked;
# the file may appear after the source starts; SIGTERM exits 0.
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh

FS=scripts/file-source.sh
KP=$BUILD/bin/kafka-produce
MOCK=$BUILD/bin/kafka-mock

PIDS=()
stop_all() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	[ -n "${MOCK_PID:-}" ] && kill "$MOCK_PID" 2>/dev/null && wait "$MOCK_PID" 2>/dev/null
}
_prev_exit=$(trap -p EXIT | sed "s/^trap -- '\(.*\)' EXIT$/\1/")
trap "stop_all; $_prev_exit" EXIT

wait_for() {
	local end=$((SECONDS + $1)); shift
	until "$@"; do [ $SECONDS -ge $end ] && return 1; sleep 0.1; done
}
topic() { kcat -C -b "$BOOT" -t "$1" -e -q -f '%k %s\n' | sort; }
count_is() { [ "$(topic "$1" | wc -l)" -eq "$2" ]; }

like "$("$FS" --help)" '--from-end' "file-source --help"
"$FS" 2> /dev/null; is "$?" 64 "file-source without a file: 64"
like "$("$KP" --help)" '--key-field' "kafka-produce --help"
"$KP" -X no.such=1 < /dev/null 2> /dev/null; is "$?" 78 "kafka-produce, unknown -X: 78"

"$MOCK" -p 4 -t stream_producer,t2 > "$T/mock.out" 2> /dev/null &
MOCK_PID=$!
wait_for 10 test -s "$T/mock.out"
BOOT=$(head -1 "$T/mock.out")

# --- kafka-produce: each line at once, keyed -----------------------------------
mkfifo "$T/in"
"$KP" -b "$BOOT" -t t2 -k client < "$T/in" &
KPID=$!
exec 3> "$T/in"
echo '{"uid":"1","client":"Client_A"}' >&3
ok wait_for 5 count_is t2 1 "a single short line is delivered while input stays open"
printf 'no key here\n\n' >&3
exec 3>&-
wait "$KPID"
is "$?" 0 "end of input: exit 0 once delivered"
is "$(topic t2)" $' no key here\nClient_A {"uid":"1","client":"Client_A"}' \
	"keyed by the member; a line without it has no key; blank lines skipped"

# --- file-source: follow a file that appears later ---------------------------
"$FS" -b "$BOOT" -k client "$T/events" 2> "$T/fs.err" &
FPID=$!
PIDS+=("$FPID")
sleep 0.5
printf '%s\n' '{"uid":"a","client":"Client_B"}' '{"uid":"b","client":"Client_C"}' > "$T/events"
ok wait_for 10 count_is stream_producer 2 "the file's first lines are produced once it appears"
echo '{"uid":"c","client":"Client_B"}' >> "$T/events"
ok wait_for 5 count_is stream_producer 3 "an appended line follows at once"
is "$(topic stream_producer | awk '{ print $1 }' | paste -sd' ')" "Client_B Client_B Client_C" "keyed by client"
kill -TERM "$FPID"
wait "$FPID"
is "$?" 0 "SIGTERM: exit 0"
ok test -z "$(pgrep -f "tail -n \+1 -F $T/events")" "tail is gone"

done_testing
