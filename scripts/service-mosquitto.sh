# Mosquitto, the MQTT broker the relay tests publish to (sourced by services.sh).
# A private instance with its own config on a free 127.0.0.1 port, never the
# system service. Exports BURGUT_TEST_MQTT_URL, and BURGUT_TEST_MOSQUITTO so
# tests that kill and restart a broker can run their own private instance.

mosquitto_start() {
	apt_install mosquitto mosquitto-clients
	local dir=$BURGUT_TESTENV/mosquitto bin=/usr/sbin/mosquitto
	if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null && [ -f "$dir/port" ]; then
		setenv BURGUT_TEST_MQTT_URL "tcp://127.0.0.1:$(cat "$dir/port")"
		setenv BURGUT_TEST_MOSQUITTO "$bin"
		return 0
	fi
	mkdir -p "$dir"
	local port
	port=$(freeport)
	cat > "$dir/mosquitto.conf" <<CONF
listener $port 127.0.0.1
allow_anonymous true
user $(id -un)
persistence false
log_dest file $dir/mosquitto.log
max_queued_messages 100000
CONF
	"$bin" -c "$dir/mosquitto.conf" >>"$dir/mosquitto.log" 2>&1 &
	echo $! > "$dir/pid"
	echo "$port" > "$dir/port"
	local i
	for i in $(seq 1 50); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			setenv BURGUT_TEST_MQTT_URL "tcp://127.0.0.1:$port"
			setenv BURGUT_TEST_MOSQUITTO "$bin"
			echo "mosquitto on 127.0.0.1:$port" >&2
			return 0
		fi
		sleep 0.1
	done
	echo "mosquitto did not start; see $dir/mosquitto.log" >&2
	return 1
}

mosquitto_stop() {
	local dir=$BURGUT_TESTENV/mosquitto
	if [ -f "$dir/pid" ]; then
		kill "$(cat "$dir/pid")" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
