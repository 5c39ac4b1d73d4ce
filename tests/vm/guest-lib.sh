# shellcheck shell=dash
# What the real-kernel guests' /init scripts share, sourced from
# /etc/vm/guest-lib.sh (tests/vm/run.sh puts it there): busybox set up, the
# usual file systems, the result lines the host decides on ("VMTEST PASS|
# FAIL: ..." and one final "VMTEST DONE: fails=N"), waits on states with a
# timeout, and loading the prepared modules.

/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp
echo
echo "VMTEST: kernel $(uname -r), uptime $(cut -d' ' -f1 /proc/uptime)s"

FAILS=0
pass() { echo "VMTEST PASS: $*"; }
fail() {
	echo "VMTEST FAIL: $*"
	FAILS=$((FAILS + 1))
}
# A script redefines on_fail to show its own logs: the console is all the
# host gets back, and only a failure needs them.
on_fail() { :; }
finish() {
	# (echo: the last log's last line may lack its newline, and the host
	# looks for DONE at the start of a line)
	if [ "$FAILS" != 0 ]; then
		on_fail
		echo
	fi
	echo "VMTEST DONE: fails=$FAILS uptime=$(cut -d' ' -f1 /proc/uptime)s"
	poweroff -f
}

# wait_for SECONDS COMMAND...: until COMMAND succeeds (polled every 0.1 s) or
# SECONDS of guest uptime have passed.
up_s() {
	read -r _u _ </proc/uptime
	echo "${_u%.*}"
}
wait_for() {
	_end=$(($(up_s) + $1))
	shift
	while ! "$@"; do
		[ "$(up_s)" -ge "$_end" ] && return 1
		usleep 100000
	done
}

# exited PID: PID is gone or a zombie (kill -0 succeeds on a zombie, which
# the shell only reaps in wait).
exited() {
	_st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null)
	[ -z "$_st" ] || [ "${_st%% *}" = Z ]
}
# wait_pid SECONDS PID: PID's exit status once it exits; after SECONDS it is
# killed (SIGKILL: 137) instead.
wait_pid() {
	wait_for "$1" exited "$2" || kill -KILL "$2" 2>/dev/null
	wait "$2"
}

load_modules() {
	while read -r m; do
		insmod "$m" || fail "insmod $m"
	done </etc/vm/load-order
}

# need_bins NAME...: the programs a script needs are in the initramfs, or it
# ends here (run.sh VM_EXTRA_BINS puts them there).
need_bins() {
	for _b in "$@"; do
		if [ ! -x "/bin/$_b" ]; then
			fail "$_b missing from the initramfs (VM_EXTRA_BINS)"
			finish
		fi
	done
}

# vcan_up NAME: a virtual CAN interface, up, or the script ends here.
vcan_up() {
	if ! ip link add dev "$1" type vcan 2>/tmp/ip.err || ! ip link set "$1" up 2>>/tmp/ip.err; then
		fail "$1: $(cat /tmp/ip.err)"
		finish
	fi
}
