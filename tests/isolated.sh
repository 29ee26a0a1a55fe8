#!/usr/bin/env bash
# isolated.sh CMD [ARGS...]: run CMD in a network namespace of its own whose only interface is the loopback.
#
# Every server the tests start (the sample API, the emulators, Prism, whose job server and the Python loopback
# worker listen on every interface) is then reachable from this machine's tests only, and a test that tries
# another host fails at once instead of sending traffic out. Needs unshare and ip (util-linux, iproute2), as
# root or with unprivileged user namespaces; where neither works, CMD runs without isolation, with a warning.
set -euo pipefail

enter() {  # enter UNSHARE_OPTIONS...: re-run this script's command inside a new network namespace
  unshare "$@" -- bash -c 'ip link set lo up && exec "$@"' isolated "${COMMAND[@]}"
}

COMMAND=("$@")
if unshare --net true 2>/dev/null && command -v ip >/dev/null; then
  enter --net
elif unshare --user --map-root-user --net true 2>/dev/null && command -v ip >/dev/null; then
  enter --user --map-root-user --net
else
  echo "isolated.sh: no network namespace can be made here; the tests' servers are not isolated" >&2
  exec "$@"
fi
