# Real servers for the sink tests, on loopback and free ports (sourced).
# shellcheck shell=bash
#
#   influx_start DIR   InfluxDB 1.x (Debian influxdb): config, data, logs in DIR.
#                      Exports INFLUX_URL, INFLUX_PID (and INFLUX_DIR).
#   influx_stop [SIG]  stop it (default TERM; e.g. `influx_stop KILL` for a crash)
#   influx_query Q [DB]  run an InfluxQL statement (POST /query, epoch=ns),
#                      print the JSON answer; DB defaults to $INFLUX_DB.
#   vm_start DIR       VictoriaMetrics (Debian victoria-metrics).  Exports
#                      VM_URL, VM_PID (and VM_DIR).
#   vm_stop [SIG]      (KILL loses what VictoriaMetrics ingested in its last
#                      seconds: it buffers in memory; TERM flushes)
#   vm_export MATCH    print /api/v1/export?match[]=MATCH (JSON lines), after
#                      flushing VictoriaMetrics' in-memory buffers.
#   free_port [N]      N (default 1) distinct free TCP ports on 127.0.0.1.
#   servers_stop       stop whatever of the two is running (for trap EXIT).
#
# Starting again on the same DIR reuses its ports and its data, so a fault
# test can stop a server and bring the same one back.  Every start waits until
# the server answers (at most SERVER_START_TIMEOUT seconds, default 60) and
# returns 1 with the server's log on stderr if it does not.

INFLUX_DB=${INFLUX_DB:-powerd_test}
SERVER_START_TIMEOUT=${SERVER_START_TIMEOUT:-60}

free_port() {
	python3 - "${1:-1}" <<-'EOF'
		import socket, sys
		# Hold every socket until all are bound so the ports are distinct.
		socks = []
		for _ in range(int(sys.argv[1])):
		    s = socket.socket()
		    s.bind(("127.0.0.1", 0))
		    socks.append(s)
		print(" ".join(str(s.getsockname()[1]) for s in socks))
	EOF
}

# _server_wait NAME PID URL LOG: until URL answers 2xx, the process dies or
# the timeout passes.
_server_wait() {
	local name=$1 pid=$2 url=$3 log=$4 i
	for ((i = 0; i < SERVER_START_TIMEOUT * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$name exited during startup; its log ($log):" >&2
			tail -n 30 "$log" >&2
			return 1
		fi
		curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null && return 0
		sleep 0.1
	done
	echo "$name did not answer $url within ${SERVER_START_TIMEOUT}s; its log ($log):" >&2
	tail -n 30 "$log" >&2
	return 1
}

# _server_stop PID SIG: signal the process and wait (10 s, then KILL).
_server_stop() {
	local pid=$1 sig=${2:-TERM} i
	[ -n "$pid" ] || return 0
	kill -"$sig" "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	return 0
}

influx_start() {
	local dir=${1:?influx_start DIR}
	command -v influxd >/dev/null || { echo "influxd not found (apt-get install influxdb)" >&2; return 1; }
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd)
	if [ ! -f "$dir/influxdb.conf" ]; then
		local ports rpc http
		ports=$(free_port 2) || return 1
		read -r rpc http <<<"$ports"
		cat >"$dir/influxdb.conf" <<-EOF
			reporting-disabled = true
			bind-address = "127.0.0.1:$rpc"

			[meta]
			  dir = "$dir/meta"
			  logging-enabled = false

			[data]
			  dir = "$dir/data"
			  wal-dir = "$dir/wal"
			  query-log-enabled = false

			[monitor]
			  store-enabled = false

			[subscriber]
			  enabled = false

			[continuous_queries]
			  enabled = false

			[http]
			  enabled = true
			  bind-address = "127.0.0.1:$http"
			  log-enabled = false
			  pprof-enabled = false

			[logging]
			  level = "warn"
			  suppress-logo = true
		EOF
		echo "$http" >"$dir/http.port"
	fi
	INFLUX_DIR=$dir
	INFLUX_URL=http://127.0.0.1:$(cat "$dir/http.port")
	influxd run -config "$dir/influxdb.conf" >>"$dir/influxd.log" 2>&1 &
	INFLUX_PID=$!
	disown "$INFLUX_PID" # no "Killed" job notice when a test kills it
	export INFLUX_URL INFLUX_PID INFLUX_DIR
	_server_wait influxd "$INFLUX_PID" "$INFLUX_URL/ping" "$dir/influxd.log"
}

influx_stop() {
	_server_stop "${INFLUX_PID:-}" "${1:-TERM}"
	INFLUX_PID=
}

influx_query() {
	local q=${1:?influx_query STATEMENT [DB]} db=${2:-$INFLUX_DB}
	curl -fsS --max-time 30 -XPOST "$INFLUX_URL/query" --data-urlencode "db=$db" \
		--data-urlencode "epoch=ns" --data-urlencode "q=$q"
}

vm_start() {
	local dir=${1:?vm_start DIR}
	command -v victoria-metrics >/dev/null ||
		{ echo "victoria-metrics not found (apt-get install victoria-metrics)" >&2; return 1; }
	mkdir -p "$dir" || return 1
	dir=$(cd "$dir" && pwd)
	[ -f "$dir/http.port" ] || free_port >"$dir/http.port" || return 1
	VM_DIR=$dir
	VM_URL=http://127.0.0.1:$(cat "$dir/http.port")
	# -retentionPeriod 100y: the tests may write old timestamps on purpose.
	victoria-metrics -httpListenAddr "127.0.0.1:$(cat "$dir/http.port")" \
		-storageDataPath "$dir/data" -retentionPeriod 100y -loggerLevel ERROR \
		-search.latencyOffset 0s >>"$dir/vm.log" 2>&1 &
	VM_PID=$!
	disown "$VM_PID"
	export VM_URL VM_PID VM_DIR
	_server_wait victoria-metrics "$VM_PID" "$VM_URL/health" "$dir/vm.log"
}

vm_stop() {
	_server_stop "${VM_PID:-}" "${1:-TERM}"
	VM_PID=
}

vm_export() {
	local match=${1:?vm_export MATCH}
	curl -fsS --max-time 30 -o /dev/null "$VM_URL/internal/force_flush" || return 1
	curl -fsS --max-time 30 "$VM_URL/api/v1/export" --data-urlencode "match[]=$match"
}

servers_stop() {
	influx_stop TERM
	vm_stop TERM
}
