# Helpers of the end-to-end tests (tests/blackbox/5*.t, 81-kafka-outage.t),
# sourced after tests/lib.sh (TAP, $T, processes, stand-ins):
#
#   e2e_kafka [kafka-mock options]   a mock cluster; sets BOOT
#   e2e_events PREFIX N SEED         N events (1% broken) into PREFIX.events,
#                                    and what should come out of them, as the
#                                    generator says (--broken-list, in
#                                    PREFIX.broken), not as validate decides:
#                                    PREFIX.valid (the valid lines, sorted),
#                                    PREFIX.invalid (the broken ones, sorted)
#   e2e_trickle FILE MS              FILE's lines, one every MS ms, on stdout
#   e2e_topic TOPIC OUT              the topic's messages as "partition offset
#                                    payload" lines; prints "0:END 1:END …"
#   e2e_collect PREFIX [WANT]        drains the four client queues and the
#                                    DLQ into PREFIX.q.<client>, PREFIX.q.dlq;
#                                    the table's uids into PREFIX.table (uids of
#                                    WANT.valid that Scan missed: by GetItem)
#   e2e_check PREFIX WANT DUMP…      the TAP tests of a final state: the
#                                    table holds exactly WANT's valid uids,
#                                    each client queue exactly its events
#                                    (byte for byte) once, the DLQ exactly the
#                                    broken ones once, retry.fifo empty (6 tests);
#                                    DUMP: e2e_topic's OUT, named TOPIC.topic
#   descendants PID                  "pid comm" of PID's descendants
#   stage_pid ROOT NAME              the pid of the stage NAME under ROOT
#   (committed_of FILE [KIND] is in tests/lib.sh)
#   kin_stat FILE KEY [KIND]         a member of that line
#   below COMMITTED ENDS             true when the committed offsets ("0:N 1:N
#                                    …", negative = none yet) add up to less
#                                    than the topic's ends: records were left
#                                    to deliver again
#   lines FILE, at_least FILE N

KIN=$BUILD/bin/kcat-in
GEN=$BUILD/bin/gen-events
PRODUCE=$BUILD/bin/kafka-produce
VALIDATE=$BUILD/bin/validate
PIPELINE=$_LIB_ROOT/scripts/pipeline.sh
CLIENTS=(Client_A Client_B Client_C Client_D)
# short group timings (the mock's defaults are Kafka's: 45 s sessions)
E2E_X=(-X session.timeout.ms=6000 -X heartbeat.interval.ms=500 -X fetch.wait.max.ms=100)
export LC_ALL=C

lines() { if [ -f "$1" ]; then wc -l < "$1"; else echo 0; fi; }
at_least() { [ "$(lines "$1")" -ge "$2" ]; }

e2e_kafka() {
	bg_start kafka-mock "$BUILD/bin/kafka-mock" "$@"
	MOCK_PID=$BG_PID
	BOOT=$(_lib_first_line "$T/kafka-mock.out" "$MOCK_PID" 20 kafka-mock) || return 1
}

e2e_events() {
	local p=$1 n=$2 seed=$3
	"$GEN" -n "$n" --invalid 1 --seed "$seed" --broken-list "$p.broken" > "$p.events" || return 1
	# The generator's own list of the lines it broke decides: validate is
	# under test here too, so the DLQ is checked against what was broken.
	awk 'NR == FNR { b[$1] = 1; next } !(FNR in b)' "$p.broken" "$p.events" | sort > "$p.valid"
	awk 'NR == FNR { b[$1] = 1; next } FNR in b' "$p.broken" "$p.events" | sort > "$p.invalid"
	[ "$(lines "$p.events")" = "$n" ] && [ "$(lines "$p.invalid")" = "$(lines "$p.broken")" ] &&
		[ "$(lines "$p.invalid")" -gt 0 ] && [ $(($(lines "$p.valid") + $(lines "$p.invalid"))) = "$n" ]
}

e2e_trickle() {
	perl -e '$| = 1; my $s = $ARGV[1] / 1000; open(my $f, "<", $ARGV[0]) or die;
		while (<$f>) { print or exit 0; select(undef, undef, undef, $s) }' "$1" "$2"
}

e2e_topic() {
	kcat -C -b "$BOOT" -t "$1" -e -q -f '%p %o %s\n' > "$2"
	awk '{ if ($2 + 1 > e[$1]) e[$1] = $2 + 1 } END { for (p = 0; p < 4; p++) printf "%s%d:%d", p ? " " : "", p, e[p] }' "$2"
}

e2e_collect() {
	local p=$1 q i pids=()
	# dynalite's paginated Scan now and then leaves out a few items of a
	# pass when the machine is busy (GetItem finds them, the next pass
	# too): the table is the union of the passes (a third when two
	# differ), and a difference is reported.
	for i in 1 2; do
		ddb_scan pismo | perl -MJSON::PP -ne 'print decode_json($_)->{UUID}{S}, "\n"' | sort > "$p.table.$i"
	done
	if cmp -s "$p.table.1" "$p.table.2"; then
		cp "$p.table.1" "$p.table"
	else
		ddb_scan pismo | perl -MJSON::PP -ne 'print decode_json($_)->{UUID}{S}, "\n"' | sort > "$p.table.3"
		sort -u "$p.table".[123] > "$p.table"
		diag "dynalite: Scan passes differ ($(lines "$p.table.1"), $(lines "$p.table.2"), $(lines "$p.table.3") items): their union is checked"
	fi
	# what both passes missed of the expected uids (WANT given): GetItem
	if [ -n "${2:-}" ] && [ -f "$2.valid" ]; then
		perl -MJSON::PP -ne 'print decode_json($_)->{uid}, "\n"' "$2.valid" | sort | comm -13 "$p.table" - > "$p.unseen"
		if [ -s "$p.unseen" ] && [ "$(lines "$p.unseen")" -le 200 ]; then
			local u found=0
			while IFS= read -r u; do
				aws_call dynamodb GetItem "{\"TableName\":\"pismo\",\"ConsistentRead\":true,\"Key\":{\"UUID\":{\"S\":\"$u\"}}}" |
					grep -q '"Item"' && { echo "$u" >> "$p.table"; found=$((found + 1)); }
			done < "$p.unseen"
			diag "dynalite: $(lines "$p.unseen") expected items missing from both Scan passes; GetItem found $found of them"
			sort -o "$p.table" "$p.table"
		fi
	fi
	for q in "${CLIENTS[@]}" dlq; do
		sqs_receive_all "$q.fifo" > "$p.q.$q" &
		pids+=($!)
	done
	wait "${pids[@]}"
}

# same GOT WANT: sorted files equal; else a diag of what differs
same() {
	cmp -s "$1" "$2" && return 0
	diag "    got $(lines "$1") lines, want $(lines "$2")"
	diag "    missing: $(comm -13 "$1" "$2" | wc -l): $(comm -13 "$1" "$2" | head -2 | cut -c1-120)"
	diag "    extra:   $(comm -23 "$1" "$2" | wc -l): $(comm -23 "$1" "$2" | head -2 | cut -c1-120)"
	diag "    repeated: $(uniq -d "$1" | wc -l): $(uniq -d "$1" | head -2 | cut -c1-120)"
	return 1
}

e2e_check() {
	local got=$1 want=$2 q
	shift 2
	perl -MJSON::PP -ne 'print decode_json($_)->{uid}, "\n"' "$want.valid" | sort > "$want.uids"
	ok same "$got.table" "$want.uids" "the table holds exactly the valid uids ($(lines "$want.uids"))"
	# every message in its client's queue, and the bodies are the events
	for q in "${CLIENTS[@]}"; do
		perl -MJSON::PP -ne 'BEGIN { $q = shift @ARGV } my $o = eval { decode_json($_) };
			print "$q: ", substr($_, 0, 100), "\n" unless $o && ref $o eq "HASH" && ($o->{client} // "") eq $q
				&& !grep { /^_/ } keys %$o' "$q" "$got.q.$q"
	done > "$got.misrouted"
	cat "${CLIENTS[@]/#/$got.q.}" | sort > "$got.qall"
	ok same "$got.qall" "$want.valid" "the client queues hold exactly the valid events, once each, byte for byte"
	is "$(head -3 "$got.misrouted")" "" "each in its client's queue, no _ keys"
	# the DLQ's records, by their _src, are the broken messages: each once
	perl -MJSON::PP -e 'my %bad;
		open(my $w, "<", shift @ARGV) or die; while (<$w>) { chomp; $bad{$_} = 1 }
		open(my $d, "<", shift @ARGV) or die; open(my $g, ">", shift @ARGV) or die;
		while (<$d>) { my $r = eval { decode_json($_) };
			if (!$r || !$r->{_src} || ($r->{_error}{stage} // "") ne "validate") { print $g "BAD ", substr($_, 0, 100), "\n"; next }
			print $g "$r->{_src}{topic} $r->{_src}{partition} $r->{_src}{offset}\n" }
		for my $f (@ARGV) { my ($topic) = $f =~ m{([^/]+)\.topic$}; open(my $t, "<", $f) or die;
			while (<$t>) { chomp; my ($p, $o, $s) = split / /, $_, 3; print "$topic $p $o\n" if $bad{$s} } }' \
		"$want.invalid" "$got.q.dlq" "$got.dlq.keys" "$@" | sort > "$want.dlq.keys"
	sort -o "$got.dlq.keys" "$got.dlq.keys"
	sort -u "$got.dlq.keys" > "$got.dlq.once"
	ok same "$got.dlq.once" "$want.dlq.keys" "the DLQ holds every broken message ($(lines "$want.invalid")), marked by validate, and nothing else"
	is "$(uniq -d "$got.dlq.keys" | wc -l)" 0 "no broken message twice in the DLQ"
	is "$(sqs_count retry.fifo)" 0 "retry.fifo is empty"
}

descendants() {
	ps -e -o pid=,ppid=,comm= | awk -v root="$1" '
		{ pp[$1] = $2; c[$1] = $3 }
		END { for (p in pp) { q = p; while (q in pp && q != root && q > 1) q = pp[q]; if (q == root && p != root) print p, c[p] } }'
}
stage_pid() { descendants "$1" | awk -v n="$2" '$2 == n { print $1; exit }'; }

below() {
	[ -n "$1" ] && [ -n "$2" ] || return 1
	awk -v c="$1" -v e="$2" 'BEGIN {
		n = split(c, a, " "); for (i = 1; i <= n; i++) { split(a[i], x, ":"); if (x[2] > 0) sc += x[2] }
		n = split(e, b, " "); for (i = 1; i <= n; i++) { split(b[i], y, ":"); se += y[2] }
		exit !(sc < se) }'
}
kin_stat() {
	grep "\"prog\":\"kcat-in\",\"stats\":\"${3:-final}\"" "$1" | tail -1 | perl -MJSON::PP -ne 'print decode_json($_)->{'"$2"'}'
}
