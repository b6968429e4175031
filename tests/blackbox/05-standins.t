#!/usr/bin/env bash
# The test harness itself, against the real local stand-ins: tests/lib.sh
# (TAP helpers, start/stop of dynalite, fauxqs and the fault-injecting front,
# ddb_count, sqs_receive_all), scripts/provision.sh (creates, waits for
# ACTIVE, is idempotent, fails clearly, keeps the secret out of sight) and
# tests/tools/http-front.mjs (each kind of fault); and nothing is left
# running afterwards, even when a test shell is killed with SIGKILL.
set -uo pipefail
cd "$(dirname "$0")/../.."
. tests/lib.sh

P=scripts/provision.sh
# listening PORT: the sockets listening on PORT, as "ADDRESS" lines (hex, from
# /proc/net/tcp: 0100007F is 127.0.0.1, 00000000 is every interface)
listening() {
	local hex
	hex=$(printf '%04X' "$1")
	awk -v p="$hex" '$4 == "0A" { split($2, a, ":"); if (a[2] == p) print a[1] }' /proc/net/tcp /proc/net/tcp6 2> /dev/null
}
gone() { ! kill -0 "$1" 2> /dev/null; }
# curl through a front: prints "HTTP-STATUS CURL-EXIT" then the body
curl_ddb() { # URL OPERATION JSON [curl options]
	local url=$1 op=$2 data=$3
	shift 3
	curl -sS --max-time 10 "$@" --aws-sigv4 "aws:amz:$AWS_REGION:dynamodb" -K <(printf 'user = "%s:%s"\n' \
		"$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY") -H 'Content-Type: application/x-amz-json-1.0' \
		-H "X-Amz-Target: DynamoDB_20120810.$op" --data "$data" -o "$T/body" -w '%{http_code}' "$url" 2> "$T/curl.err"
	local rc=$?
	printf ' %s\n' "$rc"
	cat "$T/body" 2> /dev/null
}
# items N PREFIX SIZE: a BatchWriteItem request of N puts into pismo, each with
# a padding attribute of SIZE bytes
items() {
	node -e '
		const [n, prefix, size] = process.argv.slice(1);
		const pad = "x".repeat(Number(size));
		const reqs = [];
		for (let i = 0; i < Number(n); i++)
			reqs.push({ PutRequest: { Item: { UUID: { S: `${prefix}-${i}` }, Pad: { S: pad } } } });
		process.stdout.write(JSON.stringify({ RequestItems: { pismo: reqs } }));' "$@"
}

ok test -d scripts/node/node_modules/dynalite -a -d scripts/node/node_modules/fauxqs \
	"npm packages installed (scripts/install-deps.sh)"
ok quietly node tests/tools/aws.mjs selftest "aws.mjs signs AWS's own SigV4 test vector"

# --- the TAP helpers ----------------------------------------------------------------
like "validate: not valid UTF-8 (byte 0xC3 at column 9)" "UTF-8 (byte 0xC3" "like: plain text with parentheses"
like "validate 0.1.0" "^validate [0-9.]+$" "like: an extended regular expression"
unlike "abc" "^b" "unlike"
isnt "a" "b" "isnt"
out=$(bash -c '. tests/lib.sh; is 1 2 "deliberate"; ok false "deliberate too"; done_testing; echo "rc=$?"' 2> "$T/inner.err")
like "$out" "not ok 1 - deliberate" "a failing is prints not ok"
like "$out" "1..2" "done_testing prints the plan"
like "$out" "rc=1" "done_testing returns 1 after a failure"
like "$(cat "$T/inner.err")" "expected: 2" "the failure shows what was expected"
out=$(bash -c '. tests/lib.sh; n=$( ok true "in a subshell" ); echo "$n"; pass second; done_testing')
like "$out" "ok 2 - second" "numbering carries on across subshells"

# --- the stand-ins ----------------------------------------------------------------
ok quietly scripts/dynamodb-local --help "dynamodb-local --help"
ok quietly scripts/sqs-local --help "sqs-local --help"
scripts/dynamodb-local --bogus 2> /dev/null; is $? 64 "dynamodb-local: unknown option, exit 64"
scripts/sqs-local --port 70000 2> /dev/null; is $? 64 "sqs-local: bad port, exit 64"

ok start_dynamodb "start_dynamodb"
like "$DDB_URL" '^http://127\.0\.0\.1:[0-9]+$' "dynalite's endpoint is printed first"
is "$AWS_ENDPOINT_URL_DYNAMODB" "$DDB_URL" "AWS_ENDPOINT_URL_DYNAMODB exported"
is "$(listening "${DDB_URL##*:}")" 0100007F "dynalite listens on 127.0.0.1 only"
ok start_sqs "start_sqs"
like "$SQS_URL" '^http://127\.0\.0\.1:[0-9]+$' "fauxqs's endpoint is printed first"
is "$AWS_ENDPOINT_URL_SQS" "$SQS_URL" "AWS_ENDPOINT_URL_SQS exported"
is "$(listening "${SQS_URL##*:}")" 0100007F "fauxqs listens on 127.0.0.1 only"
scripts/sqs-local --port "${SQS_URL##*:}" > /dev/null 2>&1; is $? 75 "a port in use: exit 75"

# --- provision.sh ------------------------------------------------------------------------
$P > "$T/p1.out" 2> "$T/p1.err"
is $? 0 "provision: exit 0"
is "$(grep -c ': created' "$T/p1.out")" 7 "provision: a table and six queues created"
like "$(cat "$T/p1.out")" "table pismo: created, ACTIVE" "provision: the table is ACTIVE"
is "$(wc -c < "$T/p1.err")" 0 "provision: nothing on stderr"
$P > "$T/p2.out" 2> "$T/p2.err"
is $? 0 "provision again: exit 0 (idempotent)"
is "$(grep -c ': exists' "$T/p2.out")" 7 "provision again: everything already exists"
is "$(wc -c < "$T/p2.err")" 0 "provision again: nothing on stderr"

desc=$(aws_call dynamodb DescribeTable '{"TableName":"pismo"}')
is "$(json_get Table.KeySchema <<< "$desc")" '[{"AttributeName":"UUID","KeyType":"HASH"}]' "table key: UUID, HASH"
is "$(json_get Table.AttributeDefinitions <<< "$desc")" '[{"AttributeName":"UUID","AttributeType":"S"}]' "UUID is a string"
is "$(json_get Table.BillingModeSummary.BillingMode <<< "$desc")" PAY_PER_REQUEST "on-demand billing"
for q in Client_A.fifo Client_B.fifo Client_C.fifo Client_D.fifo retry.fifo dlq.fifo; do
	url=$(sqs_url "$q")
	a=$(aws_call sqs GetQueueAttributes "{\"QueueUrl\":\"$url\",\"AttributeNames\":[\"All\"]}")
	is "$(json_get Attributes.FifoQueue <<< "$a")/$(json_get Attributes.ContentBasedDeduplication <<< "$a")" \
		true/true "$q: FIFO with content-based deduplication"
done
is "$(json_get Attributes.MessageRetentionPeriod <<< "$a")" 1209600 "dlq.fifo keeps messages 14 days"

$P --table-only --table other > "$T/p3.out"
is "$?:$(cat "$T/p3.out")" "0:table other: created, ACTIVE" "--table-only --table other"
$P --queues-only > "$T/p4.out"
is "$?:$(grep -c '^queue' "$T/p4.out"):$(grep -c '^table' "$T/p4.out")" "0:6:0" "--queues-only"
$P --table-only --queues-only 2> /dev/null; is $? 64 "--table-only --queues-only: exit 64"
$P --table 'bad name' 2> /dev/null; is $? 64 "a bad table name: exit 64"
$P --bogus 2> /dev/null; is $? 64 "unknown option: exit 64"
ok quietly $P --help "--help"

# waiting for ACTIVE: a dynalite whose tables stay CREATING for 1.5 s
start_dynamodb --create-table-ms 1500
start=$SECONDS
$P --table-only > "$T/p5.out"
is "$?:$(cat "$T/p5.out")" "0:table pismo: created, ACTIVE" "a slow CreateTable is waited for"
is "$(aws_call dynamodb DescribeTable '{"TableName":"pismo"}' | json_get Table.TableStatus)" ACTIVE "and is ACTIVE when provision returns"
ok test $((SECONDS - start)) -ge 1 "provision took the table's creating time"

# errors
AWS_MAX_ATTEMPTS=1 AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:9 $P --table-only > /dev/null 2> "$T/e1.err"
is $? 75 "an unreachable endpoint: exit 75 (try again)"
is "$(wc -l < "$T/e1.err")" 1 "one line on stderr"
like "$(cat "$T/e1.err")" "127.0.0.1" "naming the endpoint"
(unset AWS_REGION AWS_ENDPOINT_URL_DYNAMODB; $P --table-only > /dev/null 2> "$T/e2.err"); is $? 78 "no region for real AWS: exit 78"
like "$(cat "$T/e2.err")" "AWS_REGION" "says what to set"
(unset AWS_SECRET_ACCESS_KEY; $P --table-only > /dev/null 2> "$T/e3.err"); is $? 78 "no credentials: exit 78"
mkdir -p "$T/aws"
printf '[default]\naws_access_key_id = AKIDFROMFILE\naws_secret_access_key = fromfile\n' > "$T/aws/credentials"
(unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY; AWS_SHARED_CREDENTIALS_FILE=$T/aws/credentials $P --table-only > /dev/null)
is $? 0 "credentials from the shared credentials file"

# the secret stays out of the process list and the output: watch ps while
# provision runs through a slow front
secret='Sec/ret+never+shown+0123'
printf '%s\n' "$secret" > "$T/secret" # (grep -f: not on grep's own command line)
slow=$(start_front "$AWS_ENDPOINT_URL_DYNAMODB" --delay-ms 300)
(AWS_SECRET_ACCESS_KEY=$secret AWS_ENDPOINT_URL_DYNAMODB=$slow AWS_ENDPOINT_URL_SQS=$SQS_URL $P > "$T/s.out" 2>&1) &
ppid=$!
seen=0
while kill -0 $ppid 2> /dev/null; do
	ps -eo args | grep -qFf "$T/secret" && seen=1
	sleep 0.05
done
wait $ppid
is "$?:$seen" "0:0" "the secret never shows in the process list"
ok test "$(grep -cFf "$T/secret" "$T/s.out")" = 0 "nor in provision's output"
ok test "$(front_stat "$slow" requests)" -ge 2 "those requests went through the front"

# --- ddb_count, sqs_receive_all ---------------------------------------------------------------
for i in $(seq 0 11); do
	aws_call dynamodb BatchWriteItem "$(items 25 "big$i" 4000)" > /dev/null || fail "BatchWriteItem $i"
done
page=$(aws_call dynamodb Scan '{"TableName":"pismo","Select":"COUNT"}')
ok test -n "$(json_get LastEvaluatedKey <<< "$page")" "300 items of 4 KB do not fit one Scan page"
is "$(ddb_count pismo)" 300 "ddb_count follows LastEvaluatedKey"

url=$(sqs_url Client_A.fifo)
for b in 0 1 2; do
	entries=$(node -e 'const b = +process.argv[1], e = [];
		for (let i = 0; i < 10; i++) e.push({ Id: `m${i}`, MessageBody: `{"n":${b * 10 + i}}`, MessageGroupId: `g${i % 3}` });
		process.stdout.write(JSON.stringify(e));' $b)
	aws_call sqs SendMessageBatch "{\"QueueUrl\":\"$url\",\"Entries\":$entries}" > /dev/null || fail "SendMessageBatch $b"
done
is "$(sqs_count Client_A.fifo)" 30 "sqs_count: 30 messages"
sqs_receive_all Client_A.fifo 0 > "$T/bodies"
is "$(sort "$T/bodies" | md5sum)" "$(for i in $(seq 0 29); do echo "{\"n\":$i}"; done | sort | md5sum)" \
	"sqs_receive_all: every body once"
is "$(sqs_count Client_A.fifo)" 0 "and deleted them"

# --- the front ----------------------------------------------------------------------------
F=$(start_front "$AWS_ENDPOINT_URL_DYNAMODB" --throttle first:1)
like "$F" '^http://127\.0\.0\.1:[0-9]+$' "start_front prints the front's URL"
r=$(curl_ddb "$F" ListTables '{}')
is "$(head -1 <<< "$r")" "400 0" "throttle: the first request gets 400"
is "$(tail -n +2 <<< "$r" | json_get __type)" "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException" \
	"with DynamoDB's throttling error"
r=$(curl_ddb "$F" ListTables '{}')
is "$(head -1 <<< "$r")" "200 0" "the next one is forwarded"
like "$(tail -n +2 <<< "$r")" '"pismo"' "and answered by dynalite"
is "$(front_stat "$F" throttle)/$(front_stat "$F" forwarded)" 1/1 "the front counted one throttle, one forward"
FPID=$(cat "$T/front-${F##*:}/pid")
stop_front "$F"
# (a front started in $(…) is not our child: once stopped it may stay a
# zombie until its new parent reaps it, which counts as gone)
ok eval '! kill -0 "$FPID" 2> /dev/null || [ "$(ps -o stat= -p "$FPID")" = Z ]' "stop_front: the front's process is gone"
ok eval '! (exec 3<> "/dev/tcp/127.0.0.1/${F##*:}") 2> /dev/null' "stop_front: nothing listens at its port any more"
like "$(cat "$T/front-${F##*:}/err")" '"throttle":1' "the front prints its counters at exit"

S=$(start_front "$AWS_ENDPOINT_URL_SQS" --throttle 1 --ops SendMessage)
AWS_ENDPOINT_URL_SQS=$S aws_call sqs SendMessage \
	"{\"QueueUrl\":\"$url\",\"MessageBody\":\"x\",\"MessageGroupId\":\"g\"}" > "$T/sqs1"
is "$?:$(json_get __type < "$T/sqs1")" "1:com.amazon.coral.availability#ThrottlingException" "throttle: SQS gets ThrottlingException"
AWS_ENDPOINT_URL_SQS=$S aws_call sqs SendMessage \
	"{\"QueueUrl\":\"$url\",\"MessageBody\":\"x\",\"MessageGroupId\":\"g\"}" > "$T/sqs1"
is "$(json_get __type < "$T/sqs1")" "com.amazonaws.sqs#RequestThrottled" "then RequestThrottled"
is "$(AWS_ENDPOINT_URL_SQS=$S sqs_url Client_B.fifo)" "$(sqs_url Client_B.fifo)" \
	"--ops: other operations pass, and queue URLs are the same through the front"

F=$(start_front "$AWS_ENDPOINT_URL_DYNAMODB" --error5xx first:3)
codes=
for i in 1 2 3 4; do codes+="$(curl_ddb "$F" ListTables '{}' | head -1 | cut -d' ' -f1) "; done
is "$codes" "500 502 503 200 " "error5xx: 500, 502, 503, then through"
like "$(curl_ddb "$(start_front "$AWS_ENDPOINT_URL_DYNAMODB" --error5xx 1)" ListTables '{}')" "<html>" "with an HTML body"

F=$(start_front "$AWS_ENDPOINT_URL_DYNAMODB" --truncate first:1 --reset first:1 --seed 2)
r=$(curl_ddb "$F" ListTables '{}' | head -1)
is "${r#* }" 56 "reset (tried first): curl sees a receive error"
r=$(curl_ddb "$F" ListTables '{}' | head -1)
is "${r#* }" 18 "truncate: curl sees a partial body"
is "$(curl_ddb "$F" ListTables '{}' | head -1)" "200 0" "then through"

F=$(start_front "$AWS_ENDPOINT_URL_DYNAMODB" --hang first:1)
r=$(curl_ddb "$F" ListTables '{}' --max-time 1 | head -1)
is "${r#* }" 28 "hang: the client times out"
is "$(curl_ddb "$F" ListTables '{}' | head -1)" "200 0" "the next request is answered"
is "$(front_stat "$F" hang)" 1 "one hang counted"

F=$(start_front "$AWS_ENDPOINT_URL_DYNAMODB" --delay-ms 400)
t0=$(date +%s%N)
curl_ddb "$F" ListTables '{}' > /dev/null
ok test $((($(date +%s%N) - t0) / 1000000)) -ge 400 "delay-ms 400: the answer takes at least 400 ms"

# unprocessed: an honest partial write
before=$(ddb_count pismo)
F=$(start_front "$AWS_ENDPOINT_URL_DYNAMODB" --unprocessed 1 --seed 5)
r=$(curl_ddb "$F" BatchWriteItem "$(items 25 part 10)")
is "$(head -1 <<< "$r")" "200 0" "unprocessed: BatchWriteItem answers 200"
held=$(tail -n +2 <<< "$r" | json_get UnprocessedItems.pismo | node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>console.log(JSON.parse(d).length))')
ok test "$held" -ge 1 -a "$held" -le 24 "with some (not all) of the 25 items in UnprocessedItems ($held)"
is "$(ddb_count pismo)" $((before + 25 - held)) "exactly the others were written"
is "$(front_stat "$F" unprocessed_items)" "$held" "counted"
r=$(curl_ddb "$F" ListTables '{}')
is "$(head -1 <<< "$r")" "200 0" "other operations are not touched by --unprocessed"

# sqs-failed: Failed entries inside a 200
S=$(start_front "$AWS_ENDPOINT_URL_SQS" --sqs-failed 1 --seed 9)
entries=$(node -e 'const e = []; for (let i = 0; i < 10; i++) e.push({ Id: `e${i}`, MessageBody: `b${i}`, MessageGroupId: `g${i}` });
	process.stdout.write(JSON.stringify(e));')
AWS_ENDPOINT_URL_SQS=$S aws_call sqs SendMessageBatch "{\"QueueUrl\":\"$url\",\"Entries\":$entries}" > "$T/smb"
is $? 0 "sqs-failed: SendMessageBatch answers 200"
nf=$(json_get Failed < "$T/smb" | node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>console.log(JSON.parse(d).length))')
ns=$(json_get Successful < "$T/smb" | node -e 'let d="";process.stdin.on("data",c=>d+=c).on("end",()=>console.log(JSON.parse(d).length))')
is "$((nf + ns))" 10 "every entry is either Successful or Failed"
ok test "$nf" -ge 1 "some entries Failed ($nf)"
is "$(sqs_receive_all Client_A.fifo 0 | wc -l)" "$ns" "exactly the Successful ones reached the queue"

# --- nothing left behind ---------------------------------------------------------------------------
cat > "$T/inner.t" <<'EOF'
cd "$1"
. tests/lib.sh
start_dynamodb && start_sqs && f=$(start_front "$AWS_ENDPOINT_URL_DYNAMODB")
echo "$DDB_PID $SQS_PID $(cat "$T/front-${f##*:}/pid") $T" > "$2"
[ "$3" = kill ] && kill -KILL $$
pass started
done_testing
EOF
bash "$T/inner.t" "$PWD" "$T/inner.pids" normal > /dev/null 2>&1
read -r p1 p2 p3 inner_t < "$T/inner.pids"
ok test -n "$p3" "an inner test started dynalite, fauxqs and a front"
ok wait_for 10 eval "gone $p1 && gone $p2 && gone $p3" "all stopped when it exited"
ok test ! -e "$inner_t" "and its temporary directory removed"
bash -c 'bash "$@"; exit 0' inner "$T/inner.t" "$PWD" "$T/inner.pids" kill > /dev/null 2>&1
read -r p1 p2 p3 inner_t < "$T/inner.pids"
ok test -n "$p3" "an inner test started them again, then was killed with SIGKILL"
ok wait_for 15 eval "gone $p1 && gone $p2 && gone $p3" "its watchdog stopped them all"
ok wait_for 5 test ! -e "$inner_t" "and removed its temporary directory"

# --- dynalite --path keeps data across restarts ---------------------------------------------------
start_dynamodb --path "$T/store"
$P --table-only > /dev/null
aws_call dynamodb PutItem '{"TableName":"pismo","Item":{"UUID":{"S":"kept"}}}' > /dev/null
stop_pid "$DDB_PID"
is $? 0 "dynamodb-local exits 0 on SIGTERM"
start_dynamodb --path "$T/store"
is "$(ddb_count pismo)" 1 "--path: the item is still there after a restart"
stop_pid "$SQS_PID"
is $? 0 "sqs-local exits 0 on SIGTERM"

done_testing
