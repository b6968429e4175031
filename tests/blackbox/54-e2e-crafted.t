#!/usr/bin/env bash
# The whole looped pipeline against the stand-ins, with payloads crafted by
# a hostile producer mixed into a normal stream (issue 12): 300 generated
# events (1% broken) and, among them, otherwise valid events that carry a
# top-level "_" member: two "_src" (one a poison that used to pin its
# partition's commits, one forging another partition's offset), a forged
# "_error" that used to skip validation and go to retry.fifo, the same
# spelt with "\u005f", a forged "_raw". Afterwards: every partition is
# committed to its end, each client queue holds exactly its valid events,
# no crafted payload is in the table or in any client queue, and each
# crafted payload is in the DLQ exactly once, exact, failed by kcat-in
# (reserved_member), next to the broken events failed by validate.
set -uo pipefail
cd "$(dirname "$0")/../.."

. tests/lib.sh
. tests/lib-e2e.sh

N=300
ok e2e_kafka -p 4 "kafka-mock with 4 partitions"
ok start_standins "dynalite and fauxqs, table and queues provisioned" || bail_out "no stand-ins"

e2e_events "$T/want" "$N" 54
# the crafted ones: valid events of their own (another seed, other uids)
# with a reserved member; one per line, as they go into the topic
"$GEN" -n 7 --seed 5454 > "$T/bases"
SRC13='"_src":{"topic":"stream_producer","partition":1,"offset":3}'
perl -ne 'chomp; s/\}$//; my @c = (
		qq({"_src":0,"_src":"poison",%s}),
		qq({%s,"_src":0,'"$SRC13"'}),
		qq({%s,"_error":{"stage":"persist","code":"x","reason":"x","retryable":true}}),
		qq({%s,"\\u005ferror":{"stage":"persist","code":"x","reason":"x","retryable":true}}),
		qq({%s,"\\u005fsrc":0,'"$SRC13"'}),
		qq({%s,"_raw":"x"}),
		qq({%s,"_src":{"topic":"stream_producer","partition":2,"offset":0}}));
	my $b = $_; $b =~ s/^\{//; printf "$c[$. - 1]\n", $b' "$T/bases" > "$T/crafted"
is "$(lines "$T/crafted")" 7 "7 crafted payloads"
perl -MJSON::PP -ne 'print decode_json(s/\\u005f/_/gr)->{uid}, "\n"' "$T/crafted" | sort > "$T/crafted.uids"
is "$(sort -u "$T/crafted.uids" | wc -l)" 7 "each with a uid of its own"
# one crafted payload after every 40 events
perl -e 'open(my $c, "<", $ARGV[1]) or die; my @c = <$c>; open(my $e, "<", $ARGV[0]) or die;
	while (<$e>) { print; print shift @c if $. % 40 == 0 && @c } print @c' \
	"$T/want.events" "$T/crafted" > "$T/stream"
is "$(lines "$T/stream")" $((N + 7)) "the stream: $N events and the crafted ones among them"
"$PRODUCE" -b "$BOOT" -t stream_producer -k uid -z lz4 < "$T/stream"
is "$?" 0 "kafka-produce: all of it, keyed by uid"
ENDS=$(e2e_topic stream_producer "$T/stream_producer.topic")
is "$(lines "$T/stream_producer.topic")" $((N + 7)) "the topic holds them all (ends $ENDS)"

t0=$SECONDS
with_timeout 90 "$PIPELINE" -- -b "$BOOT" -G e2e "${E2E_X[@]}" -e --stats-interval 5 2> "$T/p.err"
is "$?" 0 "pipeline.sh -e: every stage exits 0 (no partition pinned)"
note "pipeline: $((N + 7)) messages in $((SECONDS - t0)) s (group join included)"
grep -v '"stats"' "$T/p.err" | head -5 | while IFS= read -r l; do note "  $l"; done
is "$(kin_stat "$T/p.err" acks)/$(kin_stat "$T/p.err" outstanding)/$(kin_stat "$T/p.err" acks_bad)" \
	"$((N + 7))/0/0" "kcat-in: every outcome came back, none refused"
is "$(kin_stat "$T/p.err" reserved)" 7 "kcat-in: 7 reserved_member records"
is "$(committed_of "$T/p.err")" "$ENDS" "committed offsets reach the end of every partition"
route_stats=$(grep '"prog":"route","stats":"final"' "$T/p.err")
is "$(echo "$route_stats" | perl -MJSON::PP -ne '$r = decode_json($_); print "$r->{to_client} $r->{to_retry} $r->{to_dlq}"')" \
	"$(lines "$T/want.valid") 0 $(($(lines "$T/want.invalid") + 7))" "route: to the clients, to retry (none), to the DLQ"

e2e_collect "$T/got" "$T/want"
perl -MJSON::PP -ne 'print decode_json($_)->{uid}, "\n"' "$T/want.valid" | sort > "$T/want.uids"
ok same "$T/got.table" "$T/want.uids" "the table holds exactly the valid uids ($(lines "$T/want.uids"))"
cat "${CLIENTS[@]/#/$T/got.q.}" | sort > "$T/got.qall"
ok same "$T/got.qall" "$T/want.valid" "the client queues hold exactly the valid events, once each, byte for byte"
for q in "${CLIENTS[@]}"; do
	perl -MJSON::PP -ne 'BEGIN { $q = shift @ARGV } my $o = eval { decode_json($_) };
		print "$q: ", substr($_, 0, 100), "\n" unless $o && ref $o eq "HASH" && ($o->{client} // "") eq $q
			&& !grep { /^_/ } keys %$o' "$q" "$T/got.q.$q"
done > "$T/got.misrouted"
is "$(head -3 "$T/got.misrouted")" "" "each in its client's queue, no _ keys"
cat "$T/got.table" "${CLIENTS[@]/#/$T/got.q.}" | grep -F -f "$T/crafted.uids" > "$T/leaked"
is "$(head -3 "$T/leaked" | cut -c1-160)" "" "no crafted payload in the table or in any client queue"

# The DLQ, by _src: the broken events (failed by validate) and the crafted
# payloads (failed by kcat-in, exact under _raw), each once, nothing else.
perl -MJSON::PP -e '
	my (%bad, %crafted);
	open(my $w, "<", $ARGV[0]) or die; while (<$w>) { chomp; $bad{$_} = 1 }
	open(my $c, "<", $ARGV[1]) or die; while (<$c>) { chomp; $crafted{$_} = 1 }
	open(my $t, "<", $ARGV[2]) or die;
	while (<$t>) { chomp; my ($p, $o, $s) = split / /, $_, 3;
		print "$p $o validate\n" if $bad{$s};
		print "$p $o kcat-in reserved_member exact\n" if $crafted{$s} }' \
	"$T/want.invalid" "$T/crafted" "$T/stream_producer.topic" | sort > "$T/want.dlq"
perl -MJSON::PP -MEncode -e '
	my %payload; open(my $t, "<", $ARGV[0]) or die;
	while (<$t>) { chomp; my ($p, $o, $s) = split / /, $_, 3; $payload{"$p $o"} = $s }
	open(my $d, "<", $ARGV[1]) or die;
	while (<$d>) { my $r = eval { decode_json($_) };
		if (!$r || !$r->{_src}) { print "BAD ", substr($_, 0, 100), "\n"; next }
		my $k = "$r->{_src}{partition} $r->{_src}{offset}";
		my $stage = $r->{_error}{stage} // "-";
		if ($stage eq "kcat-in") {
			printf "%s kcat-in %s %s\n", $k, $r->{_error}{code} // "-",
				encode("UTF-8", $r->{_raw} // "") eq ($payload{$k} // "?") ? "exact" : "not-exact";
		} else { print "$k $stage\n" } }' \
	"$T/stream_producer.topic" "$T/got.q.dlq" | sort > "$T/got.dlq"
sort -u "$T/got.dlq" > "$T/got.dlq.once"
ok same "$T/got.dlq.once" "$T/want.dlq" \
	"the DLQ: the $(lines "$T/want.invalid") broken events (validate) and the 7 crafted payloads (kcat-in, reserved_member, exact)"
is "$(uniq -d "$T/got.dlq" | wc -l)" 0 "nothing twice in the DLQ"
is "$(sqs_count retry.fifo)" 0 "retry.fifo is empty"

with_timeout 60 "$KIN" -b "$BOOT" -G e2e "${E2E_X[@]}" -e > "$T/again.out" 2> /dev/null
is "$(lines "$T/again.out")" 0 "the same group again: nothing left to deliver"

done_testing
