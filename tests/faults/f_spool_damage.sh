#!/bin/bash
# Faults: a damaged spool (issue 6, items 5, 6 and 7).  Each case builds a
# backlog of exactly N samples in full records of 100 (the server down),
# damages the spool while powerd is stopped, then lets a real
# VictoriaMetrics drain it and checks, per case:
#   ack  an ack pointing at a segment after the last one: nothing deleted,
#        everything delivered (duplicates allowed), counted and logged;
#   dir  a directory and an out-of-range empty file named like segments:
#        powerd starts, serves HTTP, sets them aside (counted), delivers all;
#   empty  a middle segment emptied: exactly its samples counted as
#        dropped{reason="corrupt"} (from the next segment's header);
#   payload  one payload byte flipped: exactly that record's 100 samples
#        counted as corrupt, the rest delivered;
#   header  a record header byte flipped: one damaged region counted (its
#        sample count is unknown), the rest delivered.
# In every case delivered + counted = N, the log says what happened, and the
# daemon exits 0 on SIGTERM under ASan.
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
# While the backlog builds, the sink points at a port nobody listens on.
DEAD_URL=http://127.0.0.1:$(free_port)
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
python3 tools/gentrace.py --profile constant:36000 --seconds 120 --seed 3 -o "$T/trace.txt" 2>/dev/null
N=$("$B/pulselog" "$T/trace.txt" --impulses-per-kwh 1000 --quiet | sed -E 's/.*flashes=([0-9]+).*/\1/')
[ "$N" -gt 1000 ] || fail "the trace gives only $N flashes"

write_conf() { # meter-name (or "" for none: deliver to VictoriaMetrics)
	{
		cat <<EOC
[daemon]
state_dir        = $T/state
listen           = 127.0.0.1:$PORT
socket           = $T/powerd.sock
EOC
		[ -n "$1" ] && cat <<EOC
[pulse.$1]
replay           = $T/trace.txt
speed            = 0
impulses_per_kwh = 1000
sample_interval  = 100h
timeout          = 100h
EOC
		cat <<EOC
[sink.vm]
type           = influxdb
url            = $([ -n "$1" ] && echo "$DEAD_URL" || echo "$VM_URL")
org            = home
bucket         = b
token          = t
batch_size     = 100
flush_interval = 10s
spool_max      = 256KiB
retry_base     = 200ms
retry_max      = 500ms
timeout        = 2s
EOC
	} >"$T/powerd.conf"
}
SP=$T/state/spool/vm
seg() { ls "$SP"/*.seg | sed -n "${1}p"; }

# backlog NAME: N samples of meter NAME in the spool, in records of 100.
backlog() {
	rm -rf "$T/state"
	write_conf "$1"
	pd_start "$T/powerd.conf" "$T/powerd.log"
	# The last, partial batch goes to the spool at the stop.
	full() { [ "$(m 'powerd_sink_samples_accepted_total{sink="vm"}')" = $N ]; }
	wait_for 60 full || fail "backlog: $(curl -s "$URL/api/status")"
	pd_stop
	[ "$(ls "$SP"/*.seg | wc -l)" -ge 4 ] || fail "backlog in only $(ls "$SP"/*.seg | wc -l) segments"
}
drained() { [ "$(m 'powerd_sink_spool_unsent_bytes{sink="vm"}')" = 0 ]; }
# deliver NAME: start powerd without a meter, drain into VictoriaMetrics;
# sets GOT (points of meter NAME there) and the counters.
deliver() {
	write_conf ""
	L0=$(log_lines "$T/powerd.log")
	pd_start "$T/powerd.conf" "$T/powerd.log"
	wait_for 60 drained || fail "$1: spool not drained: $(curl -s "$URL/api/status")"
	SENT=$(m 'powerd_sink_samples_sent_total{sink="vm"}')
	CORRUPT=$(m 'powerd_sink_samples_dropped_total{sink="vm",reason="corrupt"}')
	REGIONS=$(m 'powerd_sink_spool_damaged_regions_total{sink="vm"}')
	wait_vm_points "{__name__=\"pulse_energy_wh\",meter=\"$1\"}" $((SENT > N ? N : SENT)) 60 ||
		fail "$1: VictoriaMetrics lags"
	GOT=$(vm_points "{__name__=\"pulse_energy_wh\",meter=\"$1\"}")
	LOG=$(tail -n +"$L0" "$T/powerd.log")
	pd_stop
}

# ---------------------------------------------------------------- ack
backlog ack
printf 'powerd-spool-ack 1\n%016x %08x\n' 9 32 >"$SP/ack"
deliver ack
[ "$GOT" = $N ] || fail "ack: $GOT of $N delivered"
[ "$(m 'powerd_sink_spool_repairs_total{sink="vm",kind="ack_damaged"}' 2>/dev/null)" ] || true
grep -q "ack file points at segment 0000000000000009, after the last one" <<<"$LOG" ||
	fail "ack: not logged: $LOG"
echo "ack: an ack beyond the last segment: all $N delivered, logged"

# ---------------------------------------------------------------- dir
backlog dir
mkdir "$SP/0000000000000040.seg"
: >"$SP/ffffffffffffffff.seg"
write_conf ""
pd_start "$T/powerd.conf" "$T/powerd.log"
SET=$(m 'powerd_sink_spool_repairs_total{sink="vm",kind="file_set_aside"}')
[ "$SET" = 2 ] || fail "dir: $SET files set aside, want 2"
wait_for 60 drained || fail "dir: not drained"
pd_stop
wait_vm_points '{__name__="pulse_energy_wh",meter="dir"}' $N 60 || fail "dir: VictoriaMetrics lags"
GOT=$(vm_points '{__name__="pulse_energy_wh",meter="dir"}')
[ "$GOT" = $N ] || fail "dir: $GOT of $N delivered"
[ -d "$SP/0000000000000040.seg.bad" ] && [ -f "$SP/ffffffffffffffff.seg.bad" ] || fail "dir: not moved aside"
echo "dir: a directory and an out-of-range file named like segments: set aside (2), all $N delivered"

# ---------------------------------------------------------------- unopenable
# The spool directory itself is a file: that sink holds its samples in
# memory and retries; the other sink, the meter and HTTP run regardless.
rm -rf "$T/state"
mkdir -p "$T/state/spool"
: >"$T/state/spool/vm"
write_conf unopen
sed -i "s|^url .*|url            = $VM_URL|" "$T/powerd.conf"
cat >>"$T/powerd.conf" <<EOC
[sink.file]
type = file
path = $T/file.lp
flush_interval = 100ms
EOC
pd_start "$T/powerd.conf" "$T/powerd.log"
infile() { [ "$(wc -l <"$T/file.lp" 2>/dev/null)" = "$N" ]; }
wait_for 30 infile || fail "unopenable: the file sink has $(wc -l <"$T/file.lp") of $N"
[ "$(m 'powerd_sink_spool_error{sink="vm"}')" = 1 ] || fail "unopenable: no spool_error"
# Without a spool the sink sends from memory: what is not sent is held.
sent_or_held() { [ $(($(m 'powerd_sink_samples_sent_total{sink="vm"}') + $(m 'powerd_sink_samples_in_memory{sink="vm"}'))) -eq "$N" ]; }
wait_for 20 sent_or_held || fail "unopenable: sent $(m 'powerd_sink_samples_sent_total{sink="vm"}') + in memory $(m 'powerd_sink_samples_in_memory{sink="vm"}') != $N"
grep -q "sink vm: cannot open its spool" "$T/powerd.log" || fail "unopenable: not logged"
# Fixed while it runs: the spool opens at its next retry, without a
# restart, and everything goes out.
rm -f "$T/state/spool/vm"
fixed() { [ "$(m 'powerd_sink_spool_error{sink="vm"}')" = 0 ] && drained &&
	[ "$(m 'powerd_sink_samples_in_memory{sink="vm"}')" = 0 ]; }
wait_for 30 fixed || fail "unopenable: not recovered: $(curl -s "$URL/api/status")"
pd_stop
wait_vm_points '{__name__="pulse_energy_wh",meter="unopen"}' "$N" 60 || fail "unopenable: VictoriaMetrics lags"
echo "unopenable: the spool directory a file: sent from memory, the file sink and HTTP ran on; fixed without a restart: all $N delivered"

# ---------------------------------------------------------------- empty
backlog empty
S2=$(seg 2)
# What the emptied segment held: its records, 100 samples each.
IN2=$(python3 -c 'import sys,struct
d=open(sys.argv[1],"rb").read(); o=32; n=0
while o+20<=len(d):
    m,l,k=struct.unpack_from("<III",d,o); n+=k; o+=20+l
print(n)' "$S2")
: >"$S2"
deliver empty
[ "$CORRUPT" = "$IN2" ] || fail "empty: $CORRUPT counted as corrupt, the segment held $IN2"
[ $((GOT + CORRUPT)) -eq $N ] || fail "empty: delivered $GOT + corrupt $CORRUPT != $N"
grep -q "was cut from" <<<"$LOG" || fail "empty: not logged"
echo "empty: a middle segment emptied: $IN2 counted as corrupt (exactly), $GOT delivered"

# ---------------------------------------------------------------- payload
backlog payload
S2=$(seg 2)
printf '\xff' | dd of="$S2" bs=1 seek=$((32 + 20 + 40)) conv=notrunc 2>/dev/null
deliver payload
[ "$CORRUPT" = 100 ] || fail "payload: $CORRUPT counted as corrupt, want 100"
[ $((GOT + CORRUPT)) -eq $N ] || fail "payload: delivered $GOT + corrupt $CORRUPT != $N"
grep -q "its 100 items are lost" <<<"$LOG" || fail "payload: not logged"
echo "payload: one record's payload damaged: its 100 samples counted, $GOT delivered"

# ---------------------------------------------------------------- header
backlog header
S2=$(seg 2)
printf '\x7f' | dd of="$S2" bs=1 seek=$((32 + 5)) conv=notrunc 2>/dev/null
deliver header
[ "$REGIONS" = 1 ] || fail "header: $REGIONS damaged regions, want 1"
[ "$GOT" = $((N - 100)) ] || fail "header: $GOT delivered, want $((N - 100))"
grep -q "no record header survives" <<<"$LOG" || fail "header: not logged"
echo "header: one record header damaged: 1 region counted, $GOT delivered"
sanitizer_clean "$T/powerd.log"
