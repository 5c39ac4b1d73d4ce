# A private Mosquitto broker on loopback and a free port, for the MQTT tests
# (sourced).
# shellcheck shell=bash
#
#   mqtt_have                   0 if mosquitto and its clients are installed
#   mqtt_start [LINE...]        anonymous broker; extra LINEs go into its
#                               config (e.g. TLS listener options)
#   mqtt_start_auth USER PASS   broker that only accepts USER with PASS
#                               (a mosquitto_passwd password file)
#   mqtt_restart                start the last configuration again, same port
#   mqtt_start_same_port [LINE...]  like mqtt_start, on the port of the last one
#   mqtt_stop [SIG]             stop it (default TERM), wait for it to exit
#   mqtt_sub OUT ID ARGS...     mosquitto_sub -v -i ID ARGS > OUT in the
#                               background; returns once the broker has the
#                               subscription.  Sets MQTT_SUB_PID.
#
# Exports MQTT_PORT, MQTT_PID and MQTT_DIR (config, password file, log in
# $MQTT_DIR/mosquitto.log).  MQTT_DIR is removed by mqtt_cleanup (trap EXIT).

MQTT_START_TIMEOUT=${MQTT_START_TIMEOUT:-10}

mqtt_have() {
	command -v mosquitto >/dev/null 2>&1 ||
		[ -x /usr/sbin/mosquitto ] || return 1
	command -v mosquitto_sub >/dev/null 2>&1 && command -v mosquitto_pub >/dev/null 2>&1 &&
		command -v mosquitto_passwd >/dev/null 2>&1
}

_mqtt_bin() {
	command -v mosquitto 2>/dev/null || echo /usr/sbin/mosquitto
}

_mqtt_free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# _mqtt_launch: start mosquitto on $MQTT_DIR/mosquitto.conf, wait until it
# accepts connections.
_mqtt_launch() {
	local i
	"$(_mqtt_bin)" -c "$MQTT_DIR/mosquitto.conf" >>"$MQTT_DIR/stderr" 2>&1 &
	MQTT_PID=$!
	export MQTT_PID
	for ((i = 0; i < MQTT_START_TIMEOUT * 20; i++)); do
		if ! kill -0 "$MQTT_PID" 2>/dev/null; then
			echo "mosquitto exited during startup:" >&2
			tail -n 20 "$MQTT_DIR/stderr" "$MQTT_DIR/mosquitto.log" >&2 2>/dev/null
			MQTT_PID=
			return 1
		fi
		if (exec 3<>"/dev/tcp/127.0.0.1/$MQTT_PORT") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	echo "mosquitto did not listen on 127.0.0.1:$MQTT_PORT within ${MQTT_START_TIMEOUT}s" >&2
	return 1
}

# _mqtt_configure PORT LINE...: a fresh config (PORT "" for a free one).
_mqtt_configure() {
	[ -n "${MQTT_DIR:-}" ] || MQTT_DIR=$(mktemp -d /tmp/powerd-mqtt.XXXXXX)
	export MQTT_DIR
	MQTT_PORT=${1:-$(_mqtt_free_port)}
	export MQTT_PORT
	shift
	{
		echo "listener $MQTT_PORT 127.0.0.1"
		# Running as root, mosquitto would switch to user "mosquitto" and
		# lose access to our files: stay whoever we are.
		echo "user $(id -un)"
		echo "persistence false"
		echo "log_dest file $MQTT_DIR/mosquitto.log"
		echo "log_type error"
		echo "log_type warning"
		echo "log_type notice"
		echo "log_type information"
		echo "log_type subscribe"
		printf '%s\n' "$@"
	} >"$MQTT_DIR/mosquitto.conf"
}

mqtt_start() {
	local _
	for _ in 1 2 3; do # a free port can be taken meanwhile
		_mqtt_configure "" "$@"
		grep -q '^allow_anonymous' "$MQTT_DIR/mosquitto.conf" ||
			echo "allow_anonymous true" >>"$MQTT_DIR/mosquitto.conf"
		_mqtt_launch && return 0
	done
	return 1
}

mqtt_start_same_port() {
	_mqtt_configure "$MQTT_PORT" "$@"
	grep -q '^allow_anonymous' "$MQTT_DIR/mosquitto.conf" ||
		echo "allow_anonymous true" >>"$MQTT_DIR/mosquitto.conf"
	_mqtt_launch
}

mqtt_start_auth() {
	local user=$1 pass=$2
	[ -n "${MQTT_DIR:-}" ] || MQTT_DIR=$(mktemp -d /tmp/powerd-mqtt.XXXXXX)
	export MQTT_DIR
	rm -f "$MQTT_DIR/passwd"
	mosquitto_passwd -b -c "$MQTT_DIR/passwd" "$user" "$pass" >/dev/null 2>&1 || {
		echo "mosquitto_passwd failed" >&2
		return 1
	}
	chmod 600 "$MQTT_DIR/passwd"
	mqtt_start "allow_anonymous false" "password_file $MQTT_DIR/passwd"
}

mqtt_restart() {
	_mqtt_launch
}

# shellcheck disable=SC2120 # SIG is for other scripts (e.g. KILL)
mqtt_stop() {
	local sig=${1:-TERM} i
	[ -n "${MQTT_PID:-}" ] || return 0
	kill -"$sig" "$MQTT_PID" 2>/dev/null
	for ((i = 0; i < 100; i++)); do
		kill -0 "$MQTT_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$MQTT_PID" 2>/dev/null
	wait "$MQTT_PID" 2>/dev/null
	MQTT_PID=
}

mqtt_sub() {
	local out=$1 id=$2 i
	shift 2
	mosquitto_sub -h 127.0.0.1 -p "$MQTT_PORT" -v -i "$id" "$@" >"$out" 2>&1 &
	MQTT_SUB_PID=$!
	# The broker logs "ID QOS FILTER" once the subscription is in place.
	for ((i = 0; i < 100; i++)); do
		grep -q "[0-9]: $id [0-2] " "$MQTT_DIR/mosquitto.log" 2>/dev/null && return 0
		kill -0 "$MQTT_SUB_PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "mosquitto_sub $id did not subscribe: $(cat "$out")" >&2
	return 1
}

mqtt_cleanup() {
	[ -n "${MQTT_SUB_PID:-}" ] && kill "$MQTT_SUB_PID" 2>/dev/null
	mqtt_stop
	[ -n "${MQTT_DIR:-}" ] && rm -rf "$MQTT_DIR"
	MQTT_DIR=
}
