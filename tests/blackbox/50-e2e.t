#!/usr/bin/env bash
# The whole looped pipeline against the stand-ins (kafka-mock with 4
# partitions, dynalite, fauxqs): 20,000 events, 1% of them broken, produced
# into the topic, then scripts/pipeline.sh -e until every outcome is back and
# committed. Then: the table holds exactly the valid uids, each client queue
# exactly its events (byte for byte, once, in Kafka's order within each
# partition), the DLQ exactly the broken ones, retry.fifo is empty, and the
# group has nothing left to deliver. Route keeps the default group policy
# (one ordered lane per client queue); draining 20,000 messages from those
# lanes one at a time (fauxqs hands out one message per group per receive)
# takes about 10 s here, so it stays. E2E_EVENTS changes the count.
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh
. tests/lib-e2e.sh

N=${E2E_EVENTS:-20000}
plan 16

ok e2e_kafka -p 4 "kafka-mock with 4 partitions"
ok start_standins "dynalite and fauxqs, table and queues provisioned" || bail_out "no stand-ins"

e2e_events "$T/want" "$N" 50
note "$(lines "$T/want.valid") valid, $(lines "$T/want.invalid") broken"
"$PRODUCE" -b "$BOOT" -t stream_producer -k uid -z lz4 < "$T/want.events"
is "$?" 0 "kafka-produce: $N events keyed by uid"
ENDS=$(e2e_topic stream_producer "$T/stream_producer.topic")
is "$(lines "$T/stream_producer.topic")" "$N" "the topic holds all $N (ends $ENDS)"

t0=$SECONDS
with_timeout 120 "$PIPELINE" -- -b "$BOOT" -G e2e "${E2E_X[@]}" -e --stats-interval 5 2> "$T/p.err"
is "$?" 0 "pipeline.sh -e: every stage exits 0"
note "pipeline: $N events in $((SECONDS - t0)) s (group join included)"
grep -v '"stats"' "$T/p.err" | head -5 | while IFS= read -r l; do note "  $l"; done
is "$(kin_stat "$T/p.err" acks)/$(kin_stat "$T/p.err" outstanding)" "$N/0" "kcat-in: every outcome came back"
is "$(committed_of "$T/p.err")" "$ENDS" "committed offsets reach the end of every partition"
route_stats=$(grep '"prog":"route","stats":"final"' "$T/p.err")
is "$(echo "$route_stats" | perl -MJSON::PP -ne '$r = decode_json($_); print "$r->{to_client} $r->{to_retry} $r->{to_dlq}"')" \
	"$(lines "$T/want.valid") 0 $(lines "$T/want.invalid")" "route: to the clients, to retry, to the DLQ"

e2e_collect "$T/got" "$T/want"
e2e_check "$T/got" "$T/want" "$T/stream_producer.topic"

# One ordered lane per client queue: within a partition, the queue keeps
# Kafka's order.
# (perl's own failure, or a message it cannot place, is a failure: it ends
# with "checked N", N the messages it compared)
perl -MJSON::PP -e 'my %at; my $n = 0;
	open(my $t, "<", shift @ARGV) or die;
	while (<$t>) { my ($p, $o, $s) = split / /, $_, 3; my $e = eval { decode_json($s) }; $at{$e->{uid}} = [$p, $o] if $e && ref $e eq "HASH" && $e->{uid} }
	for my $f (@ARGV) { open(my $q, "<", $f) or die; my %last;
		while (<$q>) { my $u = decode_json($_)->{uid}; my $at = $at{$u} or die "$f: $u is not in the topic\n"; my ($p, $o) = @$at;
			print "$f: $u at $p/$o after $last{$p}\n" if defined $last{$p} && $o < $last{$p}; $last{$p} = $o; $n++ } }
	print "checked $n\n"' \
	"$T/stream_producer.topic" "${CLIENTS[@]/#/$T/got.q.}" > "$T/order" 2>&1
ORC=$?
is "$ORC $(grep -c ' after ' "$T/order") $(tail -1 "$T/order")" "0 0 checked $(lines "$T/want.valid")" \
	"each client queue keeps the partition order of its events (every message placed and compared)"
[ "$ORC" = 0 ] && [ "$(grep -c ' after ' "$T/order")" = 0 ] || diag "$(head -3 "$T/order")"

with_timeout 60 "$KIN" -b "$BOOT" -G e2e "${E2E_X[@]}" -e > "$T/again.out" 2> /dev/null
is "$(lines "$T/again.out")" 0 "the same group again: nothing left to deliver"

done_testing
