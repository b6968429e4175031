#!/usr/bin/env bash
# Installs what the project needs to build, test and run its demo, and only
# what is missing: Debian packages through apt, and the npm packages of the
# local stand-ins (dynalite, fauxqs) into scripts/node/node_modules.
# Safe to run again: a machine that has everything is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build: compiler, pkg-config and the -dev packages. Tests: cmocka, prove
# (perl), valgrind, curl, kcat (a real Kafka producer), supervisor, time
# (peak RSS in benchmarks), node for the DynamoDB and SQS stand-ins.
packages=(
	build-essential pkg-config
	librdkafka-dev libcjson-dev libcurl4-openssl-dev libssl-dev libpcre2-dev
	libcmocka-dev perl valgrind curl ca-certificates kcat supervisor time procps
)
missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
# Any node >= 18 will do (the machine may have one from elsewhere than Debian).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	missing+=(nodejs npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	if [ "$(id -u)" -eq 0 ]; then
		sudo=()
	elif command -v sudo >/dev/null; then
		sudo=(sudo)
	else
		echo "install-deps: these Debian packages are missing: ${missing[*]}" >&2
		echo "install-deps: run as root: apt-get update && apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	"${sudo[@]}" apt-get update -qq
	"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm packages, pinned by scripts/node/package-lock.json.
if [ -f scripts/node/package-lock.json ]; then
	stamp=scripts/node/node_modules/.package-lock.json
	if [ ! -f "$stamp" ] || [ scripts/node/package-lock.json -nt "$stamp" ]; then
		echo "install-deps: installing npm packages into scripts/node/node_modules"
		npm ci --prefix scripts/node --no-audit --no-fund --loglevel=error >/dev/null
	fi
fi
