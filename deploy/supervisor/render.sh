#!/usr/bin/env bash
# render.sh — makes a supervisord configuration from one of the templates
# beside it (event-processor.conf.in, supervisord.conf.in) by filling in
# its @NAME@ placeholders, and writes it to stdout:
#
#   deploy/supervisor/render.sh deploy/supervisor/event-processor.conf.in \
#       KAFKA_BROKERS=kafka1:9092,kafka2:9092 AWS_REGION=sa-east-1 USER=ep \
#       > /etc/supervisor/conf.d/event-processor.conf
#
# Values come from NAME=VALUE arguments; KAFKA_* and the AWS_* settings the
# tools read (not the credentials) also from the environment, as the tools
# would take them. A name nobody gave a value gets its default (below); an
# environment pair left empty is dropped from the file (the tool's default
# applies, or supervisord's own environment), as is an empty user=.
# Secrets never go into the file: a credential name is refused, and the
# result is checked for the values of AWS_SECRET_ACCESS_KEY and
# AWS_SESSION_TOKEN. `render.sh --help` lists the names.
set -uo pipefail
shopt -u patsub_replacement 2> /dev/null || true # "&" in a value stays "&"

prog=render.sh
usage() {
	cat <<'EOF'
usage: render.sh TEMPLATE [NAME=VALUE]…

Writes TEMPLATE with its @NAME@ placeholders filled in to stdout.

Names (default in brackets; * = also read from the environment):
  BINDIR             where the tools are [/usr/local/bin]
  PIPELINE           the looped pipeline script [BINDIR/ep-pipeline; in the
                     source tree: scripts/pipeline.sh]
  LOGDIR             the programs' log files [/var/log/event-processor]
  RUNDIR             supervisord's socket and pid file [/run/event-processor]
  CONFDIR            where the rendered files go [/etc/event-processor]
  WORKDIR            the programs' working directory [/]
  USER               run the programs as this user (supervisord as root) [-]
  KAFKA_BROKERS*  KAFKA_TOPIC*  KAFKA_GROUP*           [the tools' defaults]
  KCAT_IN_OPTS       more kcat-in options, e.g. -X session.timeout.ms=10000 [-]
  PIPELINE_STAGES    the stages, as pipeline.sh --stages ['validate | persist | route']
  DRAIN_TIMEOUT      kcat-in --drain-timeout, seconds [30]
  PIPELINE_STOP_WAIT supervisord's stopwaitsecs for the pipeline [60; more than
                     DRAIN_TIMEOUT]
  RETRY_OPTS         more retry options, e.g. --max-attempts 5 [-]
  RETRY_STOP_WAIT    stopwaitsecs for the retry daemon [60]
  STATS_INTERVAL     a stats line in the logs every N seconds [60]
  AWS_REGION*  AWS_ENDPOINT_URL*  AWS_ENDPOINT_URL_DYNAMODB*  AWS_ENDPOINT_URL_SQS*
  AWS_MAX_ATTEMPTS*  AWS_PROFILE*  AWS_SHARED_CREDENTIALS_FILE*          [-]

Credentials are never written: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
AWS_SESSION_TOKEN reach the programs from supervisord's environment, or from
the shared credentials file (AWS_PROFILE, AWS_SHARED_CREDENTIALS_FILE).
Exit: 0 done, 64 usage (unknown or secret name, bad value), 65 the result
would contain a secret, 66 no template, 70 a placeholder left unfilled.
EOF
}
warn() { echo "$prog: $*" >&2; }

ENV_NAMES=(KAFKA_BROKERS KAFKA_TOPIC KAFKA_GROUP AWS_REGION AWS_ENDPOINT_URL AWS_ENDPOINT_URL_DYNAMODB
	AWS_ENDPOINT_URL_SQS AWS_MAX_ATTEMPTS AWS_PROFILE AWS_SHARED_CREDENTIALS_FILE)
OTHER_NAMES=(BINDIR PIPELINE LOGDIR RUNDIR CONFDIR WORKDIR USER KCAT_IN_OPTS PIPELINE_STAGES DRAIN_TIMEOUT
	PIPELINE_STOP_WAIT RETRY_OPTS RETRY_STOP_WAIT STATS_INTERVAL)

case ${1:-} in
-h | --help) usage; exit 0 ;;
'' | -*) usage >&2; exit 64 ;;
esac
template=$1
shift
[ -r "$template" ] || { warn "cannot read the template $template"; exit 66; }

declare -A val
for n in "${ENV_NAMES[@]}"; do val[$n]=${!n:-}; done
for n in "${OTHER_NAMES[@]}"; do val[$n]=; done
val[BINDIR]=/usr/local/bin
val[LOGDIR]=/var/log/event-processor
val[RUNDIR]=/run/event-processor
val[CONFDIR]=/etc/event-processor
val[WORKDIR]=/
val[DRAIN_TIMEOUT]=30
val[PIPELINE_STOP_WAIT]=60
val[RETRY_STOP_WAIT]=60
val[STATS_INTERVAL]=60

for arg in "$@"; do
	name=${arg%%=*}
	if [ "$name" = "$arg" ]; then
		warn "'$arg' is not NAME=VALUE"
		exit 64
	fi
	case $name in
	*SECRET* | *TOKEN* | *PASSWORD* | AWS_ACCESS_KEY_ID)
		warn "$name: credentials do not go into the file (supervisord's environment or AWS_PROFILE)"
		exit 64 ;;
	esac
	[ -n "${val[$name]+set}" ] || { warn "unknown name $name (--help lists them)"; exit 64; }
	val[$name]=${arg#*=}
done
[ -n "${val[PIPELINE]}" ] || val[PIPELINE]=${val[BINDIR]}/ep-pipeline

for n in DRAIN_TIMEOUT PIPELINE_STOP_WAIT RETRY_STOP_WAIT STATS_INTERVAL; do
	[[ ${val[$n]} =~ ^[0-9]+$ ]] && [ "${val[$n]}" -le 86400 ] ||
		{ warn "$n: '${val[$n]}' is not a whole number of seconds"; exit 64; }
done
if [ "${val[PIPELINE_STOP_WAIT]}" -le "${val[DRAIN_TIMEOUT]}" ]; then
	warn "PIPELINE_STOP_WAIT (${val[PIPELINE_STOP_WAIT]}) must exceed DRAIN_TIMEOUT (${val[DRAIN_TIMEOUT]}): supervisord would kill the pipeline mid-drain"
	exit 64
fi
for n in "${!val[@]}"; do
	v=${val[$n]}
	if [[ $v == *$'\n'* || $v == *'"'* ]]; then
		warn "$n: no newlines or double quotes in values"
		exit 64
	fi
done

text=$(cat "$template")
for n in "${!val[@]}"; do
	v=${val[$n]//%/%%} # supervisord expands %(name)s in values
	text=${text//@$n@/$v}
done
if left=$(grep -o '@[A-Z_]*@' <<< "$text" | sort -u | tr '\n' ' ') && [ -n "$left" ]; then
	warn "placeholders nobody filled in: $left"
	exit 70
fi
for s in "${AWS_SECRET_ACCESS_KEY:-}" "${AWS_SESSION_TOKEN:-}"; do
	if [ ${#s} -ge 4 ] && [[ $text == *"$s"* ]]; then
		warn "the result contains a secret from the environment: not written"
		exit 65
	fi
done

# Drop NAME="" from environment= lines (and the line when nothing is left),
# and user= when empty.
sed -E -e '/^environment=/{s/[A-Z_]+=""(,|$)//g; s/,$//}' -e '/^environment=$/d' -e '/^user=$/d' <<< "$text"
