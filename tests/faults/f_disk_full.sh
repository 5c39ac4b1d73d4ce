#!/bin/bash
# Fault: state_dir on a full file system while the sink's server is down
# (issue 6, items 1 and 2).  Wanted: no busy loop (< 5 % of a core), a
# bounded log (a line per change of state, not per attempt), spool_error on
# /metrics and in the status, samples kept in memory up to memory_max and
# what exceeds it counted (reason spool_error), recovery by itself when space
# returns, and at the end exact accounting in VictoriaMetrics:
#   accepted = delivered + dropped{spool_error}, every flash a sample.
# Then the shutdown case: SIGTERM while the disk is still full loses what is
# in memory, and that is logged with the exact count.
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

fault_tmpfs "$T/sd" 2m
mkdir -p "$T/vm"
free_port >"$T/vm/http.port"
VM_URL=http://127.0.0.1:$(cat "$T/vm/http.port")
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
MATCH='{__name__="pulse_energy_wh"}'

write_conf() { # trace speed
	cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir        = $T/sd/state
listen           = 127.0.0.1:$PORT
socket           = $T/powerd.sock
persist_interval = 1s
[pulse.house]
replay           = $1
speed            = $2
impulses_per_kwh = 1000
sample_interval  = 100h
timeout          = 100h
[sink.vm]
type           = influxdb
url            = $VM_URL
org            = home
bucket         = b
token          = t
batch_size     = 100
flush_interval = 200ms
memory_max     = 64KiB
retry_base     = 200ms
retry_max      = 1s
timeout        = 2s
EOC
}

# ---------------------------------------------------------------- 1. while full
# 10 flashes/s for 60 s, in real time.
python3 tools/gentrace.py --profile constant:36000 --seconds 60 --seed 7 -o "$T/live.txt" 2>/dev/null
write_conf "$T/live.txt" 1
pd_start "$T/powerd.conf" "$T/powerd.log"
wait_for 10 test -s "$T/sd/state/pulse.house.state" || fail "no checkpoint"
fill_disk "$T/sd"
L0=$(log_lines "$T/powerd.log")
S0=$(sed -n 's/^flashes //p' "$T/sd/state/pulse.house.state")
up_err() { [ "$(m 'powerd_sink_spool_error{sink="vm"}')" = 1 ]; }
wait_for 10 up_err || fail "spool_error not shown: $(curl -s "$URL/api/status")"
curl -fsS "$URL/api/status" | grep -q '"spool_error"' || fail "no spool_error in /api/status"
CPU=$(cpu_pct "$PID" 5)
[ "$CPU" -lt 5 ] || fail "powerd used $CPU % of a core while the disk was full"
sleep 5 # memory_max (64 KiB, ~700 samples) is exceeded after ~70 s at 10/s: not yet
L1=$(log_lines "$T/powerd.log")
[ $((L1 - L0)) -le 10 ] || { tail -n 20 "$T/powerd.log"; fail "$((L1 - L0)) log lines in 10 s of a full disk"; }
HELD=$(m 'powerd_sink_samples_in_memory{sink="vm"}')
[ "$HELD" -gt 50 ] || fail "only $HELD samples held in memory"
# The energy checkpoint goes on: rewritten in place when no new file fits.
S1=$(sed -n 's/^flashes //p' "$T/sd/state/pulse.house.state")
[ "$S1" -gt "$S0" ] || fail "no energy checkpoint on the full disk ($S0 -> $S1)"
echo "1: full disk: $CPU % CPU, $((L1 - L0)) log lines in 10 s, $HELD samples in memory, checkpoints $S0 -> $S1"

# ---------------------------------------------------------------- 2. beyond memory_max
# A burst: 2000 flashes at once.  Over the 64 KiB bound the oldest go, counted.
pd_stop
# A clean slate for the count: no spool from before, the disk full again.
rm -rf "$T/sd/state/spool"
fill_disk "$T/sd"
python3 tools/gentrace.py --profile constant:36000 --seconds 200 --seed 8 -o "$T/burst.txt" 2>/dev/null
write_conf "$T/burst.txt" 0
pd_start "$T/powerd.conf" "$T/powerd.log"
N=$("$B/pulselog" "$T/burst.txt" --impulses-per-kwh 1000 --quiet | sed -E 's/.*flashes=([0-9]+).*/\1/')
acc_is() { [ "$(m 'powerd_sink_samples_accepted_total{sink="vm"}')" -ge "$N" ]; }
wait_for 30 acc_is || fail "accepted $(m 'powerd_sink_samples_accepted_total{sink="vm"}') of $N"
DROP=$(m 'powerd_sink_samples_dropped_total{sink="vm",reason="spool_error"}')
HELD=$(m 'powerd_sink_samples_in_memory{sink="vm"}')
[ "$DROP" -gt 0 ] || fail "nothing dropped beyond memory_max ($HELD held)"
[ "$HELD" -lt 1000 ] || fail "$HELD samples in memory: the bound did not hold"
grep -q 'memory_max' "$T/powerd.log" || fail "the drop beyond memory_max was not logged"
echo "2: burst of $N: $HELD held, $DROP dropped beyond memory_max"

# ---------------------------------------------------------------- 3. space returns
rm -f "$T/sd"/filler*
ok_again() { [ "$(m 'powerd_sink_spool_error{sink="vm"}')" = 0 ] && [ "$(m 'powerd_sink_samples_in_memory{sink="vm"}')" = 0 ]; }
wait_for 20 ok_again || fail "did not recover when space returned: $(curl -s "$URL/api/status")"
grep -q 'spool works again' "$T/powerd.log" || fail "recovery not logged"
vm_start "$T/vm" || fail "VictoriaMetrics did not start"
drained() { [ "$(m 'powerd_sink_spool_unsent_bytes{sink="vm"}')" = 0 ]; }
wait_for 60 drained || fail "spool not drained"
ACC=$(m 'powerd_sink_samples_accepted_total{sink="vm"}')
SENT=$(m 'powerd_sink_samples_sent_total{sink="vm"}')
DROP=$(m 'powerd_sink_samples_dropped_total{sink="vm",reason="spool_error"}')
[ "$ACC" = "$N" ] || fail "accepted $ACC, flashes $N"
[ $((SENT + DROP)) -eq "$ACC" ] || fail "sent $SENT + dropped $DROP != accepted $ACC"
wait_vm_points "$MATCH" "$SENT" 60 || fail "VictoriaMetrics has $(vm_points "$MATCH") of $SENT"
GOT=$(vm_points "$MATCH")
[ "$GOT" -eq "$SENT" ] || fail "VictoriaMetrics has $GOT points, powerd sent $SENT"
echo "3: recovered: $SENT delivered + $DROP dropped (spool_error) = $ACC accepted = $N flashes"
pd_stop
vm_stop

# ---------------------------------------------------------------- 4. SIGTERM while full
rm -rf "$T/sd/state/spool"
python3 tools/gentrace.py --profile constant:36000 --seconds 8 --seed 9 -o "$T/small.txt" 2>/dev/null
write_conf "$T/small.txt" 1
pd_start "$T/powerd.conf" "$T/powerd.log"
wait_for 10 test -s "$T/sd/state/spool/vm/ack" -o -s "$T/sd/state/spool/vm/0000000000000001.seg" ||
	fail "no spool"
fill_disk "$T/sd"
finished() { curl -fsS "$URL/api/status" | grep -q '"replay finished"'; }
wait_for 30 finished || fail "replay did not finish"
wait_for 10 up_err || fail "spool_error not shown"
sleep 1 # the last flash's sample reaches the sink
ACC=$(m 'powerd_sink_samples_accepted_total{sink="vm"}')
L0=$(log_lines "$T/powerd.log")
pd_stop
LOST=$(tail -n +"$L0" "$T/powerd.log" | sed -nE 's/.*sink vm: ([0-9]+) samples could not be written to the spool.*lost at shutdown.*/\1/p')
[ -n "$LOST" ] && [ "$LOST" -gt 0 ] || fail "the loss at shutdown was not logged: $(tail -n 5 "$T/powerd.log")"
grep -q 'reason="spool_error"' <(tail -n +"$L0" "$T/powerd.log") || fail "the reason was not logged"
# After the restart (space back, server up): what reached the spool before
# the disk filled is delivered; with what was logged lost, that is all.
rm -f "$T/sd"/filler*
vm_start "$T/vm" || fail "VictoriaMetrics did not come back"
BEFORE=$(vm_points "$MATCH")
write_conf "$T/small.txt" 1
sed -i '/^\[pulse.house\]/,/^timeout/d' "$T/powerd.conf" # the spool only
pd_start "$T/powerd.conf" "$T/powerd.log"
wait_for 60 drained || fail "spool not drained after the restart"
SENT2=$(m 'powerd_sink_samples_sent_total{sink="vm"}')
wait_vm_points "$MATCH" $((BEFORE + SENT2)) 60 || fail "VictoriaMetrics lags"
[ $((SENT2 + LOST)) -eq "$ACC" ] || fail "delivered $SENT2 + lost $LOST != accepted $ACC"
echo "4: SIGTERM on a full disk: $LOST lost (logged, counted), $SENT2 delivered after the restart, $ACC accepted"
pd_stop
vm_stop
sanitizer_clean "$T/powerd.log"
