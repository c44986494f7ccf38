#!/usr/bin/env bash
# Installs what the Redis Sentinel and Cluster chaos tests run, when it is
# missing: Debian's redis-sentinel (the sentinel binary) and redis-tools
# (redis-cli, whose --cluster create builds the test cluster).
set -euo pipefail

missing=()
command -v redis-sentinel >/dev/null || missing+=(redis-sentinel)
command -v redis-cli >/dev/null || missing+=(redis-tools)
command -v redis-server >/dev/null || missing+=(redis-server)
if [ ${#missing[@]} -eq 0 ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "redis-ha: ${missing[*]} missing; install them (apt-get install ${missing[*]}) or run as root" >&2
	exit 1
fi
echo "redis-ha: installing ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The package starts a system sentinel on 26379; the tests start their own
# on free ports and need none.
if command -v systemctl >/dev/null && systemctl is-active --quiet redis-sentinel 2>/dev/null; then
	systemctl stop redis-sentinel || true
fi
