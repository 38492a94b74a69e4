# InfluxDB OSS 1.8.3, the database the telemetry tests write to (sourced by
# services.sh). Built from source with `go install` the first time (about 2
# minutes) and cached in $BURGUT_TOOLS/bin. A private instance with its own
# config and temp data dirs on free 127.0.0.1 ports, Flux enabled, the
# `telemetry` database created. Exports BURGUT_TEST_INFLUX_URL, and
# BURGUT_TEST_INFLUXD (the binary) so tests that kill and restart InfluxDB
# run their own instance (telemetry/influxtest) without disturbing others.

influxd_start() {
	local dir=$BURGUT_TESTENV/influxd bin=$BURGUT_TOOLS/bin/influxd
	if [ ! -x "$bin" ]; then
		echo "building InfluxDB 1.8.3 (first time only, ~2 min)" >&2
		GOBIN=$BURGUT_TOOLS/bin go install github.com/influxdata/influxdb/cmd/influxd@v1.8.3 >&2
	fi
	if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null && [ -f "$dir/port" ]; then
		setenv BURGUT_TEST_INFLUX_URL "http://127.0.0.1:$(cat "$dir/port")"
		setenv BURGUT_TEST_INFLUXD "$bin"
		return 0
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	local port rpc
	port=$(freeport)
	rpc=$(freeport)
	while [ "$rpc" = "$port" ]; do rpc=$(freeport); done
	cat > "$dir/influxdb.conf" <<CONF
reporting-disabled = true
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$dir/meta"
[data]
  dir = "$dir/data"
  wal-dir = "$dir/wal"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:$port"
  flux-enabled = true
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
[logging]
  level = "warn"
CONF
	"$bin" -config "$dir/influxdb.conf" >>"$dir/influxd.log" 2>&1 &
	echo $! > "$dir/pid"
	echo "$port" > "$dir/port"
	local i
	for i in $(seq 1 100); do
		if curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; then
			if ! curl -sf -XPOST "http://127.0.0.1:$port/query" --data-urlencode "q=CREATE DATABASE telemetry" >/dev/null; then
				echo "influxd: CREATE DATABASE telemetry failed; see $dir/influxd.log" >&2
				return 1
			fi
			setenv BURGUT_TEST_INFLUX_URL "http://127.0.0.1:$port"
			setenv BURGUT_TEST_INFLUXD "$bin"
			echo "influxd on 127.0.0.1:$port (database telemetry)" >&2
			return 0
		fi
		sleep 0.2
	done
	echo "influxd did not start; see $dir/influxd.log" >&2
	return 1
}

influxd_stop() {
	local dir=$BURGUT_TESTENV/influxd
	if [ -f "$dir/pid" ]; then
		local pid
		pid=$(cat "$dir/pid")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
