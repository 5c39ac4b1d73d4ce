#!/bin/bash
# A spool written by powerd 0.1.0 (format 1, tests/fixtures/spool-v1) is
# drained by today's powerd: every one of its 499 samples arrives in
# VictoriaMetrics, and new batches go to a new format-2 segment.
set -u
B=${1:-build}
. tests/lib.sh
. tests/lib_servers.sh
. tests/faults/lib.sh
PD=$B/asan/powerd
T=$(mktemp -d)
PID=
cleanup() {
	servers_stop
	fault_cleanup
}
trap cleanup EXIT
command -v victoria-metrics >/dev/null || { echo "victoria-metrics not installed"; exit 77; }
vm_start "$T/vm" || fail "VictoriaMetrics did not start"
mkdir -p "$T/state/spool/vm"
cp tests/fixtures/spool-v1/*.seg "$T/state/spool/vm/"
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
python3 tools/gentrace.py --profile constant:3600 --seconds 30 --seed 1 -o "$T/new.txt" 2>/dev/null
cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir = $T/state
listen    = 127.0.0.1:$PORT
socket    = $T/powerd.sock
[pulse.fresh]
replay           = $T/new.txt
speed            = 0
impulses_per_kwh = 1000
sample_interval  = 100h
timeout          = 100h
[sink.vm]
type           = influxdb
url            = $VM_URL
org            = home
bucket         = b
token          = t
flush_interval = 200ms
EOC
pd_start "$T/powerd.conf" "$T/powerd.log"
drained() { [ "$(m 'powerd_sink_spool_unsent_bytes{sink="vm"}')" = 0 ] &&
	[ "$(m 'powerd_sink_samples_in_memory{sink="vm"}')" = 0 ]; }
wait_for 60 drained || fail "not drained: $(curl -s "$URL/api/status")"
wait_vm_points '{__name__="pulse_energy_wh",meter="v1fixture"}' 499 60 ||
	fail "VictoriaMetrics has $(vm_points '{__name__="pulse_energy_wh",meter="v1fixture"}') of 499"
GOT=$(vm_points '{__name__="pulse_energy_wh",meter="v1fixture"}')
[ "$GOT" = 499 ] || fail "$GOT of the fixture's 499 samples delivered"
[ "$(m 'powerd_sink_samples_dropped_total{sink="vm",reason="corrupt"}')" = 0 ] || fail "counted as corrupt"
NEW=$(ls "$T/state/spool/vm/"*.seg | tail -1)
[ "$(head -c 4 "$NEW")" = PWSG ] || fail "new batches are not in a format-2 segment ($NEW)"
pd_stop
sanitizer_clean "$T/powerd.log"
echo "format 1: all 499 samples of powerd 0.1.0's spool delivered; new data in format 2"
