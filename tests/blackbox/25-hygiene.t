#!/usr/bin/env bash
# Local hygiene (issue 12): the build is hardened (PIE, full RELRO, stack
# protector, and _FORTIFY_SOURCE outside the sanitizer build); the tools that
# hold secrets are not dumpable (another process of the same user cannot
# read their memory or environment); the metrics file's temporary file never
# follows a symlink planted under its name; a second SIGTERM ends persist's
# and route's last drain to a reader that stopped reading.
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh

case "$BUILD" in */san) SAN=1 ;; *) SAN=0 ;; esac

# --- the hardened build --------------------------------------------------------
elf_has() { # BINARY TOOL PATTERN: PATTERN in what TOOL says of BINARY
	$2 "$1" 2> /dev/null | grep -E -- "$3" > /dev/null
}
for tool in kcat-in validate persist route retry; do
	bin=$BUILD/bin/$tool
	ok elf_has "$bin" "readelf -h" "Type: +DYN" "$tool: a position-independent executable"
	ok elf_has "$bin" "readelf -l" "GNU_RELRO" "$tool: relocations made read-only (RELRO)"
	ok elf_has "$bin" "readelf -d" "BIND_NOW" "$tool: bound at load, so the whole GOT is read-only (-z now)"
	ok elf_has "$bin" "nm -D" "__stack_chk_fail" "$tool: built with the stack protector"
	if [ $SAN = 0 ]; then
		ok elf_has "$bin" "nm -D" "__snprintf_chk" "$tool: built with _FORTIFY_SOURCE (checked snprintf)"
	else
		skip "$tool: _FORTIFY_SOURCE is off under the sanitizers"
	fi
done

# --- tools holding secrets are not dumpable ----------------------------------------
# A process the kernel holds undumpable has its /proc/PID files owned by
# root, whoever runs it: so run the tool as nobody and look at the owner.
if command -v setpriv > /dev/null && [ "$(id -u)" = 0 ]; then
	for tool in persist route; do
		sleep 30 | AWS_ENDPOINT_URL=http://127.0.0.1:9 \
			setpriv --reuid=65534 --regid=65534 --clear-groups "$BUILD/bin/$tool" \
			> /dev/null 2> "$T/$tool-nobody.err" &
		pid=$!
		wait_for 10 test "$(stat -c %u /proc/$pid/status 2> /dev/null)" != ""
		# the process is nobody's, yet its environ is root's: not dumpable
		wait_for 5 grep -q "^Uid:.*65534" /proc/$pid/status
		like "$(grep ^Uid: /proc/$pid/status)" "65534" "$tool runs as nobody here"
		wait_for 10 test "$(stat -c %u /proc/$pid/environ)" = 0 # once it is past its start
		is "$(stat -c %u /proc/$pid/environ)" 0 "$tool: its environment (the AWS keys) is not readable by its own user"
		kill -TERM $pid 2> /dev/null
		pkill -P $$ -x sleep 2> /dev/null
		wait $pid 2> /dev/null
	done
else
	skip "persist: not dumpable (needs root and setpriv)"
	skip "persist: not dumpable"
	skip "route: not dumpable (needs root and setpriv)"
	skip "route: not dumpable"
fi

# --- the metrics file's temporary file ------------------------------------------------
# The tool's pid is the shell's, kept by exec: the symlink is in place
# before the tool writes anything.
echo "precious" > "$T/precious"
mkdir "$T/m"
echo '{"uid":"1"}' > "$T/one"
bash -c 'ln -s "$1" "$2.tmp.$$" && exec "$3" --metrics-file "$2" -q --schema "$4" < "$5" > /dev/null' \
	_ "$T/precious" "$T/m/validate.prom" "$BUILD/bin/validate" schema/event.schema.json "$T/one" 2> "$T/mv.err"
is "$(cat "$T/precious")" "precious" "a symlink planted at PATH.tmp.PID is not followed: its target is untouched"
like "$(cat "$T/m/validate.prom" 2> /dev/null)" "event_processor_records_in_total" "the metrics file is written all the same"
is "$(find "$T/m" -type l | wc -l)" 0 "the planted symlink is gone, no temporary file left"

# --- a second SIGTERM ends the last drain to a stalled reader -----------------------------
start_dynamodb || bail_out "dynalite did not start"
ok quietly with_timeout 60 scripts/provision.sh --table-only "table pismo provisioned"
"$BUILD/bin/gen-events" -n 20000 --seed 25 > "$T/events"
mkfifo "$T/stalled"
exec 7<> "$T/stalled" # held open, never read: the pipe fills and stays full
"$BUILD/bin/persist" < "$T/events" > "$T/stalled" 2> "$T/p.err" &
pid=$!
# stored everything it could; now it waits for stdout to take the rest
stored_some() { [ "$(ddb_count pismo 2> /dev/null)" -gt 0 ] 2> /dev/null; }
wait_for 60 stored_some
sleep 1
ok kill -0 $pid "persist waits on a stdout nobody reads"
kill -TERM $pid
sleep 0.5
ok kill -0 $pid "a first SIGTERM lets it keep waiting (a drain finishes what it took)"
kill -TERM $pid
start=$SECONDS
wait_for 10 sh -c "! kill -0 $pid 2> /dev/null || [ \"\$(ps -o stat= -p $pid)\" = Z ]"
ok test $((SECONDS - start)) -lt 10 "a second SIGTERM ends it at once"
kill -KILL $pid 2> /dev/null
wait $pid
is "$?" 75 "exit 75: records it could not write out are not acknowledged"
is "$(grep -c "stopped by a second signal while stdout was not being read" "$T/p.err")" 1 "and it says why, once"
exec 7>&-

done_testing
