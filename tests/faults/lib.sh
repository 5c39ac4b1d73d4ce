# Helpers for the fault suite (sourced after tests/lib.sh).
# shellcheck shell=bash
#
# Every scenario script in tests/faults/ asserts four things about its fault:
#   - exact accounting: produced = delivered + counted drops, per reason;
#   - bounded logging while the fault lasts (log_lines);
#   - no busy loop: CPU under 5 % of a core while the fault lasts (cpu_pct);
#   - recovery by itself once the fault ends.
#
#   fault_tmpfs DIR SIZE     mount a small tmpfs on DIR (exit 77 with the reason
#                            if this machine cannot mount one); unmounted by
#                            fault_cleanup
#   cpu_ticks PID            utime + stime of PID in clock ticks
#   cpu_pct PID SECONDS      CPU of PID over the next SECONDS, in % of one core
#                            (integer); waits SECONDS
#   log_lines FILE           number of lines in FILE (0 if missing)
#   pd_start CONF LOG        start powerd ($PD) on CONF, stderr appended to LOG;
#                            sets PID; waits until the control socket or
#                            /metrics ($URL) answers
#   pd_stop [SIG]            signal PID (TERM by default), wait, check exit 0
#                            for TERM; sets PID=
#   sanitizer_clean LOG      fail if LOG holds a sanitizer report
#   fault_cleanup            kill PID, unmount, remove $T (for trap EXIT)

FAULT_MOUNTS=()

fault_tmpfs() {
	local dir=$1 size=$2 err
	mkdir -p "$dir" || fail "mkdir $dir"
	if ! err=$(mount -t tmpfs -o "size=$size,mode=0755" tmpfs "$dir" 2>&1); then
		echo "cannot mount a tmpfs here (need root or CAP_SYS_ADMIN): $err"
		exit 77
	fi
	FAULT_MOUNTS+=("$dir")
}

cpu_ticks() {
	# Fields 14 and 15 of /proc/PID/stat; the command name (field 2) may
	# contain spaces, so count from the closing parenthesis.
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

cpu_pct() {
	local pid=$1 secs=$2 a b hz
	hz=$(getconf CLK_TCK)
	a=$(cpu_ticks "$pid") || return 1
	sleep "$secs"
	b=$(cpu_ticks "$pid") || return 1
	echo $(((b - a) * 100 * 100 / (hz * secs) / 100))
}

log_lines() {
	if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi
}

pd_start() {
	local conf=$1 log=$2
	"$PD" -c "$conf" 2>>"$log" &
	PID=$!
	pd_up() { kill -0 "$PID" 2>/dev/null && curl -fsS --max-time 2 "$URL/metrics" >/dev/null; }
	if ! wait_for 30 pd_up; then
		tail -n 30 "$log" >&2
		fail "powerd did not start"
	fi
}

pd_stop() {
	local sig=${1:-TERM} rc
	kill -"$sig" "$PID" 2>/dev/null
	wait "$PID"
	rc=$?
	PID=
	if [ "$sig" = TERM ] && [ $rc -ne 0 ]; then
		fail "powerd exited $rc on SIGTERM"
	fi
	return 0
}

sanitizer_clean() {
	if grep -E "Sanitizer|runtime error|LeakSanitizer" "$1" >&2; then
		fail "sanitizer report in $1"
	fi
}

# fake_start: tests/http_fake.py (the hostile and good HTTP devices) on a
# free port, logging to $T/fake.log; sets FAKE (its pid, stopped by
# fault_cleanup) and D (its base URL).
fake_start() {
	python3 tests/http_fake.py --port-file "$T/fake.port" --log "$T/fake.log" 2>"$T/fake.err" &
	FAKE=$!
	wait_for 10 test -s "$T/fake.port" || fail "the fake device did not start: $(cat "$T/fake.err")"
	D=http://127.0.0.1:$(cat "$T/fake.port")
}

fault_cleanup() {
	local m
	[ -n "${FAKE:-}" ] && kill "$FAKE" 2>/dev/null && wait "$FAKE" 2>/dev/null
	[ -n "${PID:-}" ] && kill -9 "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	for m in "${FAULT_MOUNTS[@]}"; do
		umount -l "$m" 2>/dev/null
	done
	[ -n "${T:-}" ] && rm -rf "$T"
	return 0
}

# vm_points MATCH: how many points VictoriaMetrics holds for MATCH (after
# flushing its buffers); needs tests/lib_servers.sh.
vm_points() {
	vm_export "$1" | python3 -c 'import json,sys
print(sum(len(json.loads(l)["timestamps"]) for l in sys.stdin if l.strip()))'
}

# wait_vm_points MATCH N SECONDS: until VictoriaMetrics reports N points
# (ingestion is asynchronous: never count before it says so).
wait_vm_points() {
	local i got
	for ((i = 0; i < $3 * 2; i++)); do
		got=$(vm_points "$1" 2>/dev/null)
		[ "${got:-0}" -ge "$2" ] && return 0
		sleep 0.5
	done
	return 1
}

# m NAME_WITH_LABELS: a sample's value from powerd's /metrics ($URL), or 0.
m() {
	local v
	v=$(metric "$1" "$URL/metrics")
	echo "${v:-0}"
}

# fill_disk DIR: fill the file system of DIR to the last byte (DIR/filler).
fill_disk() {
	dd if=/dev/zero of="$1/filler" bs=4k 2>/dev/null
	# tmpfs may still take a few small writes into partly used pages.
	while dd if=/dev/zero of="$1/filler.$RANDOM" bs=512 count=1 2>/dev/null; do :; done
	return 0
}
