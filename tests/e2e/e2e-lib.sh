# tests/e2e/e2e-lib.sh: the set-up of the benchmark (bench/onion_bench). Sourced, not run.
# Needs bash >= 5 (EPOCHREALTIME). The end-to-end test (tests/e2e/test_onion.py) does the same
# in Python, through tests/scenario/sandbox_fixture.py.
#
# e2e_setup BUILD_DIR stages BUILD_DIR's install tree (as scripts/demo does), boots a throwaway
# sandbox (tests/sandbox/sandbox), starts the private Tor network (tests/tor-network/tornet:
# authority, 5 relays, client tor, service tor) INSIDE the sandbox's network namespace, writes
# /etc/tails-server/config.yaml there pointing at the service tor's control socket and cookie,
# and starts tails-serverd as a systemd unit. e2e_cleanup stops every tor and powers the
# sandbox off; callers must trap it on EXIT.
#
# Everything runs on the sandbox's own loopback: nothing leaves the machine.

E2E_SOURCE_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
readonly E2E_SOURCE_DIR
readonly SANDBOX=$E2E_SOURCE_DIR/tests/sandbox/sandbox
readonly TORNET=$E2E_SOURCE_DIR/tests/tor-network/tornet
readonly PROBES=/opt/tails-server-tests/probes   # inside the sandbox
readonly TN=/run/tails-server-e2e-tornet  # the tornet DIR in the sandbox: not /tmp, the daemon has PrivateTmp=yes
readonly CMD_TIMEOUT=${E2E_CMD_TIMEOUT:-300}      # seconds allowed for one command

E2E_T0=$EPOCHREALTIME
E2E_WORK=""
E2E_STATE=""
E2E_TOR_STARTED=no

elapsed() { awk -v a="${1:-$E2E_T0}" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}'; }
now() { printf '%s' "$EPOCHREALTIME"; }

# sb CMD...: runs CMD in the sandbox (stdin passed through).
sb() { timeout "$CMD_TIMEOUT" "$SANDBOX" exec "$E2E_STATE" -- "$@"; }
# run CMD...: runs CMD in the sandbox with no stdin; sets OUT (stdout+stderr) and RC; never fails.
run() { OUT=$(timeout "$CMD_TIMEOUT" "$SANDBOX" exec "$E2E_STATE" -- "$@" </dev/null 2>&1) && RC=0 || RC=$?; }
# run_in INPUT CMD...: the same with INPUT on stdin.
run_in() {
  local input=$1; shift
  OUT=$(printf '%s' "$input" | timeout "$CMD_TIMEOUT" "$SANDBOX" exec "$E2E_STATE" -- "$@" 2>&1) && RC=0 || RC=$?
}
ts() { run tails-server "$@"; }
tn() { run "$TORNET" "$1" "$TN" "${@:2}"; }

# status_field SVC FIELD: a field of 'tails-server --json status SVC' ("" if absent).
status_field() {
  sb tails-server --json status "$1" </dev/null 2>/dev/null |
    jq -r --arg s "$1" --arg f "$2" '(if has($s) then .[$s] else . end) | (if has($f) then .[$f] else "" end) | tostring' 2>/dev/null || true
}
state_of() { status_field "$1" state; }
# option SVC OPT: an option's value, exactly (root reads secrets).
option() { sb tails-server --json get-option "$1" "$2" </dev/null 2>/dev/null | jq -j --arg o "$2" '.[$o] | tostring' 2>/dev/null || true; }
# address_of SVC: the onion address 'tails-server info SVC' shows (its address: line), or "".
address_of() {
  sb tails-server info "$1" </dev/null 2>/dev/null |
    sed -n 's/^ *address: *"\{0,1\}\([a-z2-7]\{56\}\.onion\)"\{0,1\} *$/\1/p' | head -n 1
}

# wait_state SVC STATE SECONDS: polls status (every 0.1 s) until SVC is in STATE; sets
# WAITED (seconds) and SEEN (the distinct states seen, in order). Returns 1 on timeout.
wait_state() {
  local svc=$1 want=$2 limit=$3 t=$EPOCHREALTIME s last=""
  SEEN=""
  while :; do
    s=$(state_of "$svc")
    [[ $s == "$last" ]] || { SEEN+="${SEEN:+ }${s:-?}"; last=$s; }
    WAITED=$(elapsed "$t")
    [[ $s == "$want" ]] && return 0
    awk -v w="$WAITED" -v l="$limit" 'BEGIN {exit !(w >= l)}' && return 1
    sleep 0.1
  done
}

# start_monitor SVC FILE: 'tails-server monitor SVC' in the background inside the sandbox,
# each line prefixed with its wall-clock time (EPOCHREALTIME, the host's clock too).
start_monitor() {
  sb bash -c 'setsid "$0" "$1" >"$2" 2>&1 </dev/null & echo $! >"$2.pid"' "$PROBES/monitor-ts" "$1" "$2" </dev/null
}
# stop_monitor FILE: ends that monitor (its own process group).
stop_monitor() { sb bash -c 'kill -- "-$(cat "$1.pid")" 2>/dev/null; true' _ "$1" </dev/null || true; }
# monitor_wait FILE SVC STATE AFTER SECONDS: waits until FILE has a line "<time> SVC: STATE..."
# with time > AFTER; prints that time. Returns 1 on timeout.
monitor_wait() {
  local file=$1 svc=$2 want=$3 after=$4 limit=$5 t=$EPOCHREALTIME hit
  while :; do
    hit=$(sb cat "$file" </dev/null 2>/dev/null |
          awk -v a="$after" -v p="$svc: $want" '$1 > a && index($0, " " p) {print $1; exit}')
    [[ -n $hit ]] && { printf '%s' "$hit"; return 0; }
    awk -v w="$(elapsed "$t")" -v l="$limit" 'BEGIN {exit !(w >= l)}' && return 1
    sleep 0.2
  done
}

# e2e_setup BUILD_DIR: see the top of this file. Sets E2E_WORK, E2E_STATE, NET_READY (s).
# On failure prints why (and the logs' tails) and returns 1.
e2e_setup() {
  local build=$1 tree extra t
  E2E_WORK=$(mktemp -d /tmp/tails-server-e2e.XXXXXX)
  E2E_STATE=$E2E_WORK/machine
  tree=$E2E_WORK/install extra=$E2E_WORK/extra
  if ! DESTDIR=$tree cmake --install "$build" --prefix /usr >"$E2E_WORK/cmake-install.log" 2>&1; then
    echo "e2e: cmake --install $build failed:"; tail -n 20 "$E2E_WORK/cmake-install.log"; return 1
  fi
  mkdir -p "$extra$PROBES"
  cp "$E2E_SOURCE_DIR"/tests/probes/*.py "$E2E_SOURCE_DIR"/tests/e2e/monitor-ts "$extra$PROBES/"
  # The unit must start the daemon that was staged (the build dir may have another prefix).
  local unit_file exec_start
  unit_file=$(find "$tree" -name tails-serverd.service -path '*/systemd/system/*' | head -n 1)
  exec_start=$(sed -n 's/^ExecStart=//p' "${unit_file:-/dev/null}" | head -n 1)
  if [[ ! -x $tree${exec_start%% *} ]]; then
    echo "e2e: note: ExecStart=$exec_start is not in the staged tree; using /usr/sbin/tails-serverd"
    mkdir -p "$extra/etc/systemd/system/tails-serverd.service.d"
    printf '[Service]\nExecStart=\nExecStart=/usr/sbin/tails-serverd\n' \
      >"$extra/etc/systemd/system/tails-serverd.service.d/e2e.conf"
  fi
  if ! "$SANDBOX" boot "$E2E_STATE" --install "$tree" --install "$extra" >"$E2E_WORK/boot.log" 2>&1; then
    echo "e2e: sandbox boot failed:"; tail -n 30 "$E2E_WORK/boot.log"; return 1
  fi

  t=$EPOCHREALTIME
  E2E_TOR_STARTED=yes
  if ! sb "$TORNET" start "$TN" --client --service-tor --timeout 180 </dev/null >"$E2E_WORK/tornet-start.log" 2>&1; then
    echo "e2e: tornet start failed (in the sandbox):"; tail -n 40 "$E2E_WORK/tornet-start.log"; return 1
  fi
  NET_READY=$(elapsed "$t")

  local socket cookie
  socket=$(sb bash -c '. "$1/env" && printf %s "$SERVICE_CONTROL_SOCKET"' _ "$TN" </dev/null)
  cookie=$(sb bash -c '. "$1/env" && printf %s "$SERVICE_COOKIE"' _ "$TN" </dev/null)
  if [[ -z $socket || -z $cookie ]]; then
    echo "e2e: $TN/env has no SERVICE_CONTROL_SOCKET or SERVICE_COOKIE"; sb cat "$TN/env" </dev/null; return 1
  fi
  E2E_TOR_CONTROL="unix:$socket" E2E_TOR_COOKIE=$cookie
  printf 'tor_control: "%s"\ntor_cookie: "%s"\n' "$E2E_TOR_CONTROL" "$E2E_TOR_COOKIE" |
    sb bash -c 'mkdir -p /etc/tails-server && cat >/etc/tails-server/config.yaml'
  if ! sb systemctl start tails-serverd </dev/null >"$E2E_WORK/daemon-start.log" 2>&1; then
    echo "e2e: systemctl start tails-serverd failed:"; cat "$E2E_WORK/daemon-start.log"
    sb journalctl -u tails-serverd --no-pager -n 30 </dev/null; return 1
  fi
}

# e2e_cleanup: stops every tor of the network and powers the sandbox off (idempotent).
e2e_cleanup() {
  [[ -n $E2E_STATE ]] || return 0
  if [[ $E2E_TOR_STARTED == yes ]] && "$SANDBOX" status "$E2E_STATE" >/dev/null 2>&1; then
    timeout 60 "$SANDBOX" exec "$E2E_STATE" -- "$TORNET" stop "$TN" </dev/null >/dev/null 2>&1 || true
  fi
  "$SANDBOX" poweroff "$E2E_STATE" >/dev/null 2>&1 || true
  if [[ -n $E2E_WORK ]] && ! grep -qF -- "$E2E_WORK/" /proc/self/mountinfo; then
    if [[ ${KEEP:-} == 1 ]]; then echo "e2e: kept $E2E_WORK"; else rm -rf -- "$E2E_WORK"; fi
  fi
  E2E_STATE=""
}
