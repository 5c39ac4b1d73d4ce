#!/bin/bash
# Fault: an uploader that cannot keep up with a replay at full speed (issue
# 6, item 3).  Two sinks here fsync every sample (batch_size = 1), so the
# uploader takes a few thousand samples a second while the replay could
# produce millions.  Wanted: the meter thread stays on time whatever the
# rings do: /metrics moves on every scrape, the energy checkpoint is written
# every persist_interval (1 s), a kill -9 in the middle loses at most that,
# and back-pressure on the replay loses nothing: every flash reaches the
# sinks, no ring drops anything.
set -u
B=${1:-build}
. tests/lib.sh
. tests/faults/lib.sh
PD=$B/asan/powerd
T=$(mktemp -d)
PID=
trap fault_cleanup EXIT
PORT=$(free_port)
URL=http://127.0.0.1:$PORT
python3 tools/gentrace.py --profile constant:36000 --seconds 1500 --seed 11 -o "$T/big.txt" 2>/dev/null
python3 tools/gentrace.py --profile constant:36000 --seconds 300 --seed 12 -o "$T/small.txt" 2>/dev/null
write_conf() { # trace
	cat >"$T/powerd.conf" <<EOC
[daemon]
state_dir        = $T/state
listen           = 127.0.0.1:$PORT
socket           = $T/powerd.sock
persist_interval = 1s
[pulse.house]
replay           = $1
speed            = 0
impulses_per_kwh = 1000
sample_interval  = 100h
timeout          = 100h
[sink.slow]
type           = file
path           = $T/slow.lp
batch_size     = 1
spool_fsync    = batch
[sink.slow2]
type           = file
path           = $T/slow2.lp
batch_size     = 1
spool_fsync    = batch
EOC
}
flashes() { m 'powerd_pulse_flashes_total{meter="house"}'; }
saved() { sed -n 's/^flashes //p' "$T/state/pulse.house.state" 2>/dev/null || echo 0; }

# ---------------------------------------------------------------- on time, then kill -9
# 15,000 flashes through sinks that fsync every sample: far more than the
# uploader takes in the 4 s watched.
write_conf "$T/big.txt"
N=$("$B/pulselog" "$T/big.txt" --impulses-per-kwh 1000 --quiet | sed -E 's/.*flashes=([0-9]+).*/\1/')
pd_start "$T/powerd.conf" "$T/powerd.log"
prev_f=$(flashes) prev_s=$(saved) t_f=$(date +%s%N) t_s=$t_f worst_f=0 worst_s=0
for ((polls = 0; polls < 16; polls++)); do
	sleep 0.25
	now=$(date +%s%N) f=$(flashes) s=$(saved)
	[ "$f" -ge "$N" ] && fail "the replay finished in $polls polls: the uploader was not slow enough to test anything"
	if [ "$f" != "$prev_f" ]; then
		[ $((now - t_f)) -gt $worst_f ] && worst_f=$((now - t_f))
		prev_f=$f t_f=$now
	fi
	if [ "$s" != "$prev_s" ]; then
		[ $((now - t_s)) -gt $worst_s ] && worst_s=$((now - t_s))
		prev_s=$s t_s=$now
	fi
done
now=$(date +%s%N)
[ $((now - t_f)) -gt $worst_f ] && worst_f=$((now - t_f))
[ $((now - t_s)) -gt $worst_s ] && worst_s=$((now - t_s))
[ $worst_f -lt 2000000000 ] || fail "/metrics stood still for $((worst_f / 1000000)) ms during the replay"
[ $worst_s -lt 3000000000 ] || fail "no checkpoint for $((worst_s / 1000000)) ms with persist_interval = 1s"
echo "on time: /metrics still for at most $((worst_f / 1000000)) ms, checkpoints at most $((worst_s / 1000000)) ms apart, $(flashes) of $N flashes replayed"
AT=$(flashes)
kill -9 "$PID"
wait "$PID" 2>/dev/null
PID=
LAST=$(saved)
# Restart on the checkpoint: energy continues from it (the replay runs
# again from its start, on top, in real time: it adds nothing yet).
sed -i 's/^speed .*/speed = 1/' "$T/powerd.conf"
pd_start "$T/powerd.conf" "$T/powerd.log"
BASE=$(flashes)
[ "$BASE" -ge "$LAST" ] && [ "$LAST" -gt 0 ] || fail "energy after kill -9: $BASE flashes, last checkpoint $LAST"
echo "kill -9 at $AT flashes: continues from $BASE (last checkpoint $LAST): $((AT - BASE)) flashes lost"
pd_stop

# ---------------------------------------------------------------- nothing lost
# 3,000 flashes: more than the samples ring and the outbox hold, so the
# replay is held back again and again; all of them must arrive.
rm -rf "$T/state" "$T"/slow*.lp
write_conf "$T/small.txt"
N=$("$B/pulselog" "$T/small.txt" --impulses-per-kwh 1000 --quiet | sed -E 's/.*flashes=([0-9]+).*/\1/')
pd_start "$T/powerd.conf" "$T/powerd.log"
done_all() { [ "$(wc -l <"$T/slow.lp" 2>/dev/null)" -ge "$N" ] && [ "$(wc -l <"$T/slow2.lp" 2>/dev/null)" -ge "$N" ]; }
wait_for 120 done_all || fail "the sinks have $(wc -l <"$T/slow.lp") and $(wc -l <"$T/slow2.lp") of $N samples"
[ "$(wc -l <"$T/slow.lp")" -eq "$N" ] || fail "the sink has $(wc -l <"$T/slow.lp") samples, $N flashes"
for r in edges samples; do
	[ "$(m "powerd_ring_dropped_total{ring=\"$r\"}")" = 0 ] || fail "ring $r dropped items"
done
echo "nothing lost: $N flashes, $N samples in each sink, no ring drops"
pd_stop
sanitizer_clean "$T/powerd.log"
