#!/usr/bin/env bash
# Start or stop the real services the tests talk to, on free loopback ports.
#
#   scripts/services.sh start   install what is missing, start every service,
#                               write their addresses to $BURGUT_TESTENV/env
#   scripts/services.sh stop    stop them and remove their temp data
#
# Each service has its own file, scripts/service-<name>.sh, defining
# <name>_start and <name>_stop; this script only sequences them. It is
# idempotent: a service already running from an earlier start is reused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export BURGUT_TESTENV=${BURGUT_TESTENV:-$(cd "$here/.." && pwd)/.testenv}
export BURGUT_TOOLS=${BURGUT_TOOLS:-$HOME/.cache/burgut/tools}
mkdir -p "$BURGUT_TESTENV" "$BURGUT_TOOLS/bin"
envfile=$BURGUT_TESTENV/env

# freeport prints a TCP port on 127.0.0.1 that nothing listens on.
freeport() {
	local p i
	for i in $(seq 1 100); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "no free port found" >&2
	return 1
}

# setenv NAME VALUE records an address for the tests.
setenv() {
	touch "$envfile"
	grep -v "^export $1=" "$envfile" > "$envfile.tmp" || true
	echo "export $1='$2'" >> "$envfile.tmp"
	mv "$envfile.tmp" "$envfile"
}

# apt_install PKG... installs Debian packages that are missing.
apt_install() {
	local missing=()
	for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing ${missing[*]} (apt-get)" >&2
	if [ "$(id -u)" = 0 ]; then sudo=; else sudo=sudo; fi
	$sudo apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
}

services=()
for f in "$here"/service-*.sh; do
	[ -e "$f" ] || continue
	# shellcheck source=/dev/null
	source "$f"
	n=$(basename "$f" .sh)
	services+=("${n#service-}")
done

case "${1:-}" in
start)
	for s in "${services[@]}"; do "${s}_start"; done
	;;
stop)
	for s in "${services[@]}"; do "${s}_stop" || true; done
	rm -f "$envfile"
	;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
