#!/usr/bin/env bash
# A Kafka outage under a steady stream: the looped pipeline (kcat-in |
# validate | persist | route) and the retry daemon run against the Kafka
# mock, dynalite and fauxqs while events trickle into the topic through
# kafka-produce; then every broker of the mock goes down for OUTAGE_S
# seconds (default 30) and comes back. After recovery: the producer
# delivered every event, kcat-in rode out the outage in the same process and
# said so on stderr, committed offsets reach the end of every partition,
# every valid event is stored once and in its client's queue once, the
# broken ones are in the DLQ once, retry.fifo is empty.
#
# "Down" is kafka-mock's SIGUSR1 (SIGUSR2 brings it back), which calls
# librdkafka 2.0.2's rd_kafka_mock_broker_set_down() on every broker. Seen
# on this machine: the brokers' connections are closed and so is the
# listening socket, so a new connection is refused, as when a broker's
# process is gone; set_up listens again on the same port. The topics, their
# messages and the group's committed offsets stay in the mock's memory, as
# a broker's log and __consumer_offsets stay on its disk. Where it differs
# from a real outage:
#  - the mock's group coordinator keeps its clock running while "down": it
#    expires the silent member after session.timeout.ms (6 s here) and the
#    group goes empty. A real coordinator that is down expires nobody, but
#    the client gives up on its own after session.timeout.ms without an
#    answer (librdkafka: "Consumer group session timed out … revoking
#    assignment and rejoining group"), so kcat-in sees the same thing:
#    assignment lost, then a fresh join once the brokers answer;
#  - only "process down, host up" is modelled: a host that is unreachable
#    (SYNs unanswered, connects that time out) is not;
#  - set_down moves no partition leaders, so one broker of several going
#    down while the others take over is not covered: all go down at once.
# Records whose outcome came back but whose commit could not be made
# during the outage are delivered again after it; the stages' effects are
# idempotent, which the end-state checks prove. A produce request cut off
# by the outage may be retried into a duplicate message: the topic must
# hold every event at least once. See docs/kafka.md, "A broker outage".
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh
. tests/lib-e2e.sh

# 30 s as asked of the system; the sanitizer run repeats the same paths with
# a 10 s outage to keep the suite within minutes (as 80-outage.t does).
case $BUILD in */san) OUTAGE_S=${OUTAGE_S:-10} ;; *) OUTAGE_S=${OUTAGE_S:-30} ;; esac
RATE_MS=25                      # one event every 25 ms: 40 a second
N=$(( (OUTAGE_S + 25) * 1000 / RATE_MS ))
plan 19

start_standins || bail_out "stand-ins did not start"
e2e_kafka -p 4 || bail_out "no Kafka mock"
e2e_events "$T/want" "$N" 81 || bail_out "no events"
note "$N events ($(lines "$T/want.valid") valid, $(lines "$T/want.invalid") broken), one every $RATE_MS ms; Kafka away for $OUTAGE_S s"

bg_start pipeline "$PIPELINE" -- -b "$BOOT" -G kafka-outage "${E2E_X[@]}" --stats-interval 1
PIPE_PID=$BG_PID
bg_start retry "$BUILD/bin/retry" --wait-time 1 --base-delay 2s --max-delay 10s --stats-interval 5
RETRY_PID=$BG_PID

# The stream. kafka-produce keeps what it cannot send in librdkafka's queue
# and retries it (message.timeout.ms, 5 min by default, is far longer than
# the outage).
e2e_trickle "$T/want.events" "$RATE_MS" | "$PRODUCE" -b "$BOOT" -k uid 2> "$T/producer.err" &
PRODUCER_PID=$!

# The outage starts once records flow through the whole loop: something
# committed in some partition.
flowing() { [[ $(committed_of "$T/pipeline.err" periodic) =~ :[1-9] ]]; }
wait_for 90 flowing || bail_out "nothing committed within 90 s: $(tail -3 "$T/pipeline.err")"
KIN_PID=$(stage_pid "$PIPE_PID" kcat-in)
[ -n "$KIN_PID" ] || bail_out "no kcat-in under the pipeline"
note "$(date +%T) flowing, committed $(committed_of "$T/pipeline.err" periodic); Kafka away for $OUTAGE_S s"

# Where the outage's lines start in each log.
PIPE_OFF=$(($(wc -c < "$T/pipeline.err") + 1))
PROD_OFF=$(($(wc -c < "$T/producer.err") + 1))
kill -USR1 "$MOCK_PID"
ok wait_for 10 grep -q 'kafka-mock: brokers down' "$T/kafka-mock.err" "kafka-mock: every broker down (SIGUSR1)"
# bash's /dev/tcp: a connect that fails at once is a refusal
if with_timeout 5 bash -c "exec 3<> /dev/tcp/${BOOT%:*}/${BOOT##*:}" 2> /dev/null; then
	conn=accepted
else
	conn=refused
fi
is "$conn" refused "a new connection to the broker is refused during the outage"

# kcat-in checked every second: it must ride the outage out, not exit.
gone=
for ((i = 0; i < OUTAGE_S; i++)); do
	kill -0 "$KIN_PID" 2> /dev/null || { gone=${gone:-$i}; }
	sleep 1
done
is "${gone:-alive}" alive "kcat-in stayed up through the outage" ||
	diag "kcat-in gone after $gone s: $(tail -5 "$T/pipeline.err")"
kill -USR2 "$MOCK_PID"
ok wait_for 10 grep -q 'kafka-mock: brokers up' "$T/kafka-mock.err" "kafka-mock: every broker up again (SIGUSR2)"
note "$(date +%T) Kafka back"

wait "$PRODUCER_PID"
is "$?" 0 "the producer delivered all $N events despite the outage"
like "$(tail -c +"$PROD_OFF" "$T/producer.err")" 'refused|down|[Dd]isconnected' \
	"the producer said on stderr that the broker was away"
ENDS=$(e2e_topic stream_producer "$T/stream_producer.topic")
cut -d' ' -f3- "$T/stream_producer.topic" | sort > "$T/topic.payloads"
# (the broken lines may repeat one another: compared as sets)
sort -u "$T/want.events" > "$T/want.sorted"
sort -u "$T/topic.payloads" > "$T/topic.once"
ok same "$T/topic.once" "$T/want.sorted" "the topic holds every event ($ENDS)"
DUPS=$(($(lines "$T/topic.payloads") - $(lines "$T/want.events")))
[ "$DUPS" = 0 ] || note "$DUPS events are in the topic twice (produce requests retried across the cut)"

at_ends() { [ "$(committed_of "$T/pipeline.err" periodic)" = "$ENDS" ]; }
retry_empty() { [ "$(sqs_count retry.fifo)" = 0 ]; }
note "$(date +%T) waiting for the end offsets"
ok wait_for 240 at_ends "committed offsets reach the end offsets ($ENDS)"
ok wait_for 120 retry_empty "retry.fifo is empty"
ok kill -0 "$KIN_PID" "kcat-in is still the process that was running before the outage"
OUTAGE_LOG=$(tail -c +"$PIPE_OFF" "$T/pipeline.err" | grep '^kcat-in: ' | grep -v '"stats"')
note "kcat-in during and after the outage (first lines):"
note "$(head -8 <<< "$OUTAGE_LOG")"
like "$OUTAGE_LOG" 'brokers are down|[Cc]onnection refused|[Dd]isconnected' \
	"kcat-in's stderr says the brokers were unreachable"
# its session (6 s here) ran out during the outage: a new assignment after it
if [ "$OUTAGE_S" -gt 6 ]; then
	like "$OUTAGE_LOG" 'assigned stream_producer' "kcat-in rejoined the group after the outage"
else
	skip "an outage of $OUTAGE_S s is within the 6 s session: no rejoin expected"
fi

note "$(date +%T) done; draining the queues"
stop_pid "$PIPE_PID"; PRC=$?
stop_pid "$RETRY_PID"; RRC=$?
is "$PRC $RRC" "0 0" "SIGTERM: the pipeline and the retry daemon exit 0"
note "kcat-in: $(kin_stat "$T/pipeline.err" messages) messages for $N events (repeats: what was" \
	"done but not committed when the outage came), $(kin_stat "$T/pipeline.err" rebalances)" \
	"rebalances, $(kin_stat "$T/pipeline.err" commit_failures) failed commits"

e2e_collect "$T/got" "$T/want"
e2e_check "$T/got" "$T/want" "$T/stream_producer.topic"
done_testing
