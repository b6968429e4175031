#!/usr/bin/env bash
# The demo: runs what the project has over the sample events and prints, at a
# glance, what happened to them. For now that is validate: valid records to
# one file, invalid ones (with their reasons) to another.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BUILD:-build}/bin
events=${1:-examples/events.txt}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== validate: $events against schema/event.schema.json"
start=$(date +%s.%N)
"$bin/validate" --rejects "$work/rejects.ndjson" "$events" > "$work/valid.ndjson"
end=$(date +%s.%N)

total=$(grep -cv '^[[:space:]]*$' "$events" || true)
valid=$(wc -l < "$work/valid.ndjson")
invalid=$(wc -l < "$work/rejects.ndjson")
echo
printf '%-10s %6s\n' records "$total" valid "$valid" invalid "$invalid"
echo
echo "valid events per client:"
for c in Client_A Client_B Client_C Client_D; do
	printf '  %-10s %4d\n' "$c" "$(grep -c "\"client\":\"$c\"" "$work/valid.ndjson" || true)"
done
echo
echo "invalid records and why (line: reason):"
# The reasons are in each record's _error; node is installed with the stand-ins.
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean);
  for (const l of lines) { const e = JSON.parse(l)._error; console.log(`  ${e.line}: ${e.reason}`); }
' "$work/rejects.ndjson"
echo
awk -v s="$start" -v e="$end" 'BEGIN { printf "time: %.3f s\n", e - s }'
