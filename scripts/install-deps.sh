#!/usr/bin/env bash
# Installs what the project needs to build, test and run its demo, and only
# what is missing: Debian packages through apt, and the npm packages of the
# local stand-ins (dynalite, fauxqs) into scripts/node/node_modules.
# Safe to run again: a machine that has everything is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."

# Build: compiler, pkg-config and the -dev packages. Tests: cmocka, prove
# (perl), valgrind, curl, kcat (a real Kafka producer), supervisor, time
# (peak RSS in benchmarks), node for the DynamoDB and SQS stand-ins. Fuzzing
# (make fuzz-build): clang, and libclang-rt-dev for libFuzzer and the
# sanitizer runtimes (clang only recommends it, so it is named here).
# Packaging (make deb, tests/blackbox/90-package.t): dpkg-dev for
# dpkg-buildpackage, debhelper for dh, lintian, and systemd for
# systemd-analyze verify (the package is built without root, so no fakeroot).
packages=(
	build-essential pkg-config clang libclang-rt-dev
	librdkafka-dev libcjson-dev libcurl4-openssl-dev libssl-dev libpcre2-dev
	libcmocka-dev perl valgrind curl ca-certificates kcat supervisor time procps
	dpkg-dev debhelper lintian systemd
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

# fauxqs 1.9.2 needs Node 20; Debian 12's own nodejs is 18. The npm registry
# ships Node itself as a package (node@20, a prebuilt binary inside the
# package), so an older node gets a newer one beside it in /usr/local/bin.
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
	echo "install-deps: node $node_major is too old for the SQS stand-in; installing node@20 from npm"
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: run as root (or install Node 20 yourself): npm install -g node@20" >&2
		exit 1
	fi
	npm install -g --no-audit --no-fund --loglevel=error node@20 >/dev/null
	hash -r
	node_major=$(node -p 'process.versions.node.split(".")[0]')
	[ "$node_major" -ge 20 ] || { echo "install-deps: node is still $node_major (check PATH)" >&2; exit 1; }
fi

# npm packages, pinned by scripts/node/package-lock.json.
if [ -f scripts/node/package-lock.json ]; then
	stamp=scripts/node/node_modules/.package-lock.json
	if [ ! -f "$stamp" ] || [ scripts/node/package-lock.json -nt "$stamp" ]; then
		echo "install-deps: installing npm packages into scripts/node/node_modules"
		npm ci --prefix scripts/node --no-audit --no-fund --loglevel=error >/dev/null
	fi
fi
