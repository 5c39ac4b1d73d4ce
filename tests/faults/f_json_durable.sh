#!/bin/bash
# Fault: a JSON file deleted before its samples are safe (issue 7).  With
# after = delete, a file may go only once its samples are in every sink's
# spool.  Here the sink's server is down and state_dir is a full tmpfs, so
# the samples can only wait in memory: every file must stay.  When space
# returns they reach the spool and the files go; when the server comes up,
# every point arrives.  No busy loop meanwhile.
set -u
B=${1:-build}
. tests/lib.sh
. tests/lib_servers.sh
. tests/faults/lib.sh
PD=$B/asan/powerd
T=$(mktemp -d)
PID=
cleanup() { servers_stop; fault_cleanup; }
trap cleanup EXIT
export TZ=UTC
command -v victoria-metrics >/dev/null || { echo "victoria-metrics missing"; exit 77; }
fault_tmpfs "$T/state" 2m
mkdir -p "$T/msgs" "$T/vm"
free_port >"$T/vm/http.port"
port=$(free_port)
URL=http://127.0.0.1:$port
cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir = $T/state
listen    = 127.0.0.1:$port
socket    = $T/powerd.sock
[json.pp1]
path  = $T/msgs
after = delete
[sink.vm]
type       = influxdb
url        = http://127.0.0.1:$(cat "$T/vm/http.port")
database   = pp1
retry_base = 100ms
retry_max  = 1s
EOC
pd_start "$T/powerd.conf" "$T/powerd.log"
fill_disk "$T/state"
python3 tools/genpp1.py "$T/msgs" --files 20 --start $(($(date +%s) - 3600)) >/dev/null
read_all() { [ "$(m 'powerd_source_samples_total{source="pp1",kind="json"}')" = 220 ]; }
wait_for 20 read_all || fail "the source read $(m 'powerd_source_samples_total{source="pp1",kind="json"}') of 220 records"
spool_err() { [ "$(m 'powerd_sink_spool_error{sink="vm"}')" = 1 ]; }
wait_for 20 spool_err || fail "no spool error on a full disk"
sleep 3
left=$(ls "$T/msgs" | grep -c '^message_')
[ "$left" = 20 ] || fail "$((20 - left)) files deleted while their samples were only in memory"
cpu=$(cpu_pct "$PID" 3)
[ "${cpu%.*}" -lt 5 ] || fail "busy while waiting: ${cpu}% of a core"

# Space again: the samples reach the spool, then the files go.
rm -f "$T/state"/filler*
gone() { [ "$(ls "$T/msgs" | grep -c '^message_')" = 0 ]; }
wait_for 30 gone || fail "$(ls "$T/msgs" | grep -c '^message_') files still there after space returned"
[ -s "$T/state/json.pp1.checkpoint" ] || fail "no checkpoint"
# The server comes up: every point arrives.
vm_start "$T/vm" || fail "VictoriaMetrics did not start"
wait_vm_points '{__name__="grid_voltage"}' 20 60 || fail "VictoriaMetrics: $(vm_points '{__name__="grid_voltage"}') of 20 points"
pd_stop TERM
sanitizer_clean "$T/powerd.log"
echo PASS
