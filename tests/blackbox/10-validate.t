#!/usr/bin/env bash
# validate as a user runs it: every bad input of the issue, each with a clear
# _error and the records around it still out in order; exit codes; --rejects,
# --quiet, --values; metadata keys; signals and a closed output pipe.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh

V=$BUILD/bin/validate
GEN=$BUILD/bin/gen-events
A='{"uid":"a","context":"monitoramento","event_type":"INSERT","client":"Client_A","created_at":"2024-09-10T04:17:09.0247241-03:00"}'
B='{"uid":"b","context":"aplicação de usuários","event_type":"DELETE","client":"Client_B","created_at":"2024-09-10T07:17:09Z"}'

# field NAME < record: a top-level member's value (node is there for the stand-ins)
jfield() { node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>{const o=JSON.parse(d);let v=o;for(const k of process.argv[1].split("."))v=v==null?v:v[k];process.stdout.write(typeof v==="string"?v:JSON.stringify(v))})' "$1"; }

# run_one INPUT-BYTES: validate the bad line between two good ones; sets OUT
# to the output and MID to the middle output line.
run_one() {
	{ printf '%s\n' "$A"; printf '%b' "$1"; printf '\n%s\n' "$B"; } > "$T/in"
	"$V" "$T/in" > "$T/out" 2> "$T/err"
	RC=$?
	MID=$(sed -n 2p "$T/out")
}
check_bad() { # DESC INPUT CODE REASON-SUBSTRING
	run_one "$2"
	is "$RC" 0 "$1: exit 0"
	is "$(wc -l < "$T/out")" 3 "$1: three records out"
	is "$(sed -n 1p "$T/out")" "$A" "$1: record before it unchanged"
	is "$(sed -n 3p "$T/out")" "$B" "$1: record after it unchanged"
	is "$(printf '%s' "$MID" | jfield _error.code)" "$3" "$1: _error.code"
	like "$(printf '%s' "$MID" | jfield _error.reason)" "$4" "$1: reason"
	is "$(printf '%s' "$MID" | jfield _error.line)" 2 "$1: names line 2"
}

# --- valid records pass byte for byte -------------------------------------
"$GEN" -n 2000 --seed 11 > "$T/valid.ndjson"
"$V" 2>> "$T/stats.err" < "$T/valid.ndjson" > "$T/out"
is "$?" 0 "2000 generated events: exit 0"
ok cmp -s "$T/valid.ndjson" "$T/out" "2000 generated valid events come out byte for byte"

# --- each bad input of the issue -------------------------------------------
check_bad "not JSON" 'hello world' json "not JSON: syntax error at column 1"
check_bad "truncated object" '{"uid":"x","client":"Cli' json "truncated"
check_bad "array" '[1,2,3]' not_object "this is an array"
check_bad "scalar" '"just a string"' not_object "this is a string"
check_bad "invalid UTF-8" '{"uid":"\xc3\x28"}' utf8 "not valid UTF-8 (byte 0xC3 at column 9)"
is "$(printf '%s' "$MID" | jfield _raw_base64)" "eyJ1aWQiOiLDKCJ9" "invalid UTF-8: exact bytes kept in _raw_base64"
check_bad "NUL byte" '{"uid":"a\x00b"}' nul_byte "NUL byte at column 10"
check_bad "schema: unknown client" '{"uid":"z","context":"integrações","event_type":"INSERT","client":"Client_Z","created_at":"2024-09-10T04:17:09Z"}' schema \
	'/client: "Client_Z" is not one of "Client_A", "Client_B", "Client_C", "Client_D"'
is "$(printf '%s' "$MID" | jfield _error.keyword)" enum "schema error names the keyword"
is "$(printf '%s' "$MID" | jfield _error.pointer)" /client "schema error names the pointer"
check_bad "missing field" '{"uid":"z","context":"integrações","event_type":"INSERT","client":"Client_A"}' schema 'created_at'
check_bad "bad date" '{"uid":"z","context":"integrações","event_type":"INSERT","client":"Client_A","created_at":"2024-13-40T99:00:00Z"}' schema 'date-time'

# 100,000 nested [
{ printf '%s\n' "$A"; head -c 100000 /dev/zero | tr '\0' '['; printf '\n%s\n' "$B"; } > "$T/in"
"$V" 2>> "$T/stats.err" "$T/in" > "$T/out"; is "$?" 0 "100,000 nested [: exit 0"
is "$(sed -n 2p "$T/out" | jfield _error.code)" too_deep "100,000 nested [: too_deep"
is "$(sed -n 3p "$T/out")" "$B" "100,000 nested [: next record still out"

# a line over the limit, default 1 MiB and a small --max-line
{ printf '%s\n' "$A"; printf '{"uid":"'; head -c 1200000 /dev/zero | tr '\0' 'x'; printf '"}\n%s\n' "$B"; } > "$T/in"
"$V" 2>> "$T/stats.err" "$T/in" > "$T/out"; is "$?" 0 "1.2 MB line: exit 0"
is "$(wc -l < "$T/out")" 3 "1.2 MB line: three records out"
is "$(sed -n 2p "$T/out" | jfield _error.code)" too_long "1.2 MB line: too_long"
like "$(sed -n 2p "$T/out" | jfield _error.reason)" "limit of 1114112 bytes" "1.2 MB line: names the limit (1 MiB + 64 KiB of headroom)"
is "$(sed -n 2p "$T/out" | jfield _raw_truncated)" true "1.2 MB line: _raw says it was cut"
is "$(sed -n 3p "$T/out")" "$B" "1.2 MB line: next record unchanged"
printf '%s\n' "$A" > "$T/in"
"$V" 2>> "$T/stats.err" --max-line 64 "$T/in" | jfield _error.code > "$T/code"; is "$(cat "$T/code")" too_long "--max-line 64 makes a 140-byte record too long"

# CRLF, blank lines, no final newline, empty file
printf '%s\r\n\r\n   \n\n%s\r\n' "$A" "$B" > "$T/in"
"$V" 2>> "$T/stats.err" "$T/in" > "$T/out"; is "$?" 0 "CRLF and blank lines: exit 0"
is "$(cat "$T/out")" "$A
$B" "CRLF: records out without the CR, blank lines skipped"
printf '%s\n%s' "$A" "$B" > "$T/in"
"$V" 2>> "$T/stats.err" "$T/in" > "$T/out"
is "$(tail -c 1 "$T/out" | od -An -c | tr -d ' ')" '\n' "no final newline: output line still ends in a newline"
is "$(sed -n 2p "$T/out")" "$B" "no final newline: last record out unchanged"
: > "$T/empty"
"$V" 2>> "$T/stats.err" "$T/empty" > "$T/out"; is "$?" 0 "empty file: exit 0"
is "$(wc -c < "$T/out")" 0 "empty file: no output"

# --- metadata, earlier failures, wrapped payloads --------------------------
printf '%s\n' '{"additionalProperties":false,"properties":{"a":{"type":"integer"}}}' > "$T/strict.json"
printf '%s\n' '{"a":1,"_src":{"topic":"t","partition":0,"offset":5}}' '{"a":1,"b":2}' > "$T/in"
"$V" 2>> "$T/stats.err" -s "$T/strict.json" "$T/in" > "$T/out"
is "$(sed -n 1p "$T/out")" '{"a":1,"_src":{"topic":"t","partition":0,"offset":5}}' "_ keys are not validated (additionalProperties false)"
is "$(sed -n 2p "$T/out" | jfield _error.keyword)" additionalProperties "other extra keys are"
failed='{"uid":"q","_error":{"stage":"kcat-in","reason":"earlier"}}'
printf '%s\n' "$failed" | "$V" 2>> "$T/stats.err" > "$T/out"
is "$(cat "$T/out")" "$failed" "a record already failed passes through untouched"
printf '%s\n' '{"_raw":"not {json","_src":{"offset":3}}' | "$V" 2>> "$T/stats.err" > "$T/out"
is "$(jfield _error.code < "$T/out")" not_object "a wrapped non-JSON payload is rejected"
like "$(jfield _error.reason < "$T/out")" "not JSON" "with the payload's own reason"
is "$(jfield _src.offset < "$T/out")" 3 "and keeps its metadata"

# --- the generator's broken lines, exactly -----------------------------------
# gen-events --broken-list says which lines it broke and how ("LINE KIND
# FIELD"); validate must mark exactly those, each for what was broken.
# expect_marks LIST: "LINE CODE KEYWORD FIELD" per broken line, from the list
expect_marks() {
	awk '{ k = $2; f = $3
		if (k == "client" || k == "event_type" || k == "context") print $1, "schema enum", f
		else if (k == "date") print $1, "schema format", f
		else if (k == "missing") print $1, "schema required", f
		else if (k == "wrong_type") print $1, "schema type", f
		else if (k == "not_json" || k == "truncated") print $1, "json - -"
		else if (k == "not_object") print $1, "not_object - -"
		else print $1, "UNKNOWN-KIND", k }' "$1"
}
# marks OUT: "LINE CODE KEYWORD FIELD" per marked record of a plain run (one
# record out per line in): FIELD from the pointer, or the property a
# "required" reason names; LINE the record's place, checked against _error.line
marks() {
	node -e '
		const fs = require("fs");
		fs.readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l !== "").forEach((l, i) => {
			const e = JSON.parse(l)._error;
			if (!e) return;
			let f = e.pointer ? e.pointer.replace(/^\//, "") : "-";
			if (e.keyword === "required") f = (/required property "([^"]+)"/.exec(e.reason) || [])[1] || "?";
			const line = e.line === i + 1 ? i + 1 : `${i + 1}(_error.line ${e.line})`;
			console.log(`${line} ${e.code} ${e.keyword || "-"} ${f}`);
		});' "$1"
}
"$GEN" -n 1000 --invalid 5 --seed 3 --broken-list "$T/mixed.broken" > "$T/mixed"
is "$?" 0 "gen-events --broken-list: exit 0"
is "$(cut -d' ' -f2 "$T/mixed.broken" | sort -u | tr '\n' ' ')" \
	"client context date event_type missing not_json not_object truncated wrong_type " \
	"the generator broke $(wc -l < "$T/mixed.broken") lines, of all nine kinds"
"$V" 2>> "$T/stats.err" "$T/mixed" > "$T/plain"
is "$?" 0 "a plain run over them: exit 0"
is "$(wc -l < "$T/plain")" 1000 "one record out per line in"
is "$(marks "$T/plain")" "$(expect_marks "$T/mixed.broken")" \
	"validate marks exactly the lines the generator broke, each with the code, keyword and member of what was broken"
ok cmp -s <(grep -v '"_error"' "$T/plain") <(awk 'NR == FNR { b[$1] = 1; next } !(FNR in b)' "$T/mixed.broken" "$T/mixed") \
	"the lines the generator left alone come out byte for byte, in order"

# --- --rejects, --quiet, --values -----------------------------------------
"$V" 2>> "$T/stats.err" --rejects "$T/rej" "$T/mixed" > "$T/good"
is "$?" 0 "--rejects: exit 0"
ok cmp -s "$T/good" <(grep -v '"_error"' "$T/plain") "--rejects: stdout is the plain run's unmarked records, byte for byte, in order"
ok cmp -s "$T/rej" <(grep '"_error"' "$T/plain") "--rejects: the rejects file is the plain run's marked records, byte for byte, in order"
"$V" 2>> "$T/stats.err" -q "$T/mixed" > "$T/out"; is "$?" 65 "-q with invalid records: exit 65"
is "$(wc -c < "$T/out")" 0 "-q writes nothing"
"$V" 2>> "$T/stats.err" -q "$T/valid.ndjson"; is "$?" 0 "-q with all valid: exit 0"
printf '%s\n' '{"type":"integer","minimum":3}' > "$T/int.json"
printf '5\n2\n"x"\n' | "$V" 2>> "$T/stats.err" --values -s "$T/int.json" > "$T/out"
is "$(sed -n 1p "$T/out")" 5 "--values: a valid scalar comes out as it was"
is "$(sed -n 2p "$T/out" | jfield _raw)" 2 "--values: an invalid scalar is wrapped in _raw"
is "$(sed -n 2p "$T/out" | jfield _error.keyword)" minimum "--values: with its reason"

# --- configuration and usage errors ---------------------------------------
"$V" -s "$T/nope.json" < /dev/null 2> "$T/err"; is "$?" 78 "missing schema: exit 78"
is "$(wc -l < "$T/err")" 1 "missing schema: one line on stderr"
printf '{"type": "object", "properties": {"a": {"pattern": "(["}}}\n' > "$T/badre.json"
"$V" -s "$T/badre.json" < /dev/null 2> "$T/err"; is "$?" 78 "schema with a broken regex: exit 78"
printf '{"type": ' > "$T/broken.json"
"$V" -s "$T/broken.json" < /dev/null 2> "$T/err"; is "$?" 78 "schema that is not JSON: exit 78"
like "$(cat "$T/err")" "broken.json" "the error names the schema file"
"$V" --bogus < /dev/null 2>/dev/null; is "$?" 64 "unknown option: exit 64"
"$V" --max-line 12x < /dev/null 2>/dev/null; is "$?" 64 "bad number: exit 64"
"$V" --help > "$T/out"; is "$?" 0 "--help: exit 0"
like "$(cat "$T/out")" "--rejects FILE" "--help documents the long options"
like "$("$V" --version)" "^validate" "--version"
"$V" "$T/missing-file" "$T/valid.ndjson" > "$T/out" 2> "$T/err"; is "$?" 66 "an input that cannot be opened: exit 66"
is "$(wc -l < "$T/out")" 2000 "the other inputs are still read"

# --- a closed output pipe and SIGTERM --------------------------------------
"$GEN" -n 200000 --seed 5 > "$T/big"
"$V" "$T/big" 2> "$T/err" | head -n 1 > /dev/null
is "${PIPESTATUS[0]}" 74 "closed output pipe: exit 74"
mkfifo "$T/fifo"
"$V" 2>> "$T/stats.err" < "$T/fifo" > "$T/out" &
vpid=$! # validate itself (the shell execs it after the redirections)
exec 7> "$T/fifo"
head -n 100 "$T/big" >&7
sleep 0.5
kill -TERM "$vpid"
wait "$vpid"
rc=$?
exec 7>&-
is "$rc" 0 "SIGTERM while waiting for input: exit 0"
is "$(wc -l < "$T/out")" 100 "SIGTERM: the records read so far were written"

done_testing
