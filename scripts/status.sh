#!/usr/bin/env bash
# status.sh — what is where: messages in each client's queue, in retry.fifo
# and in dlq.fifo, and items in the DynamoDB table, asked of the endpoints
# the tools use (the same AWS_* environment; the local stand-ins or AWS).
# `status.sh --help` lists the options; `--dlq` also lists the DLQ's
# messages with their reasons, `--json` prints one JSON object. The work is
# done by scripts/node/status.mjs (Node only, no npm packages).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if ! command -v node > /dev/null; then
	echo "status.sh: node is not installed (run scripts/install-deps.sh)" >&2
	exit 69
fi
exec node "$here/node/status.mjs" "$@"
