# Chromium, the real browser the web map's end-to-end test drives through
# chromedp (sourced by services.sh). Nothing runs here: each test starts its
# own headless instance with a fresh profile. Exports BURGUT_TEST_CHROMIUM.

chromium_start() {
	apt_install chromium
	local bin
	bin=$(command -v chromium || true)
	[ -n "$bin" ] || bin=/usr/bin/chromium
	if [ ! -x "$bin" ]; then
		echo "chromium not found after installing it" >&2
		return 1
	fi
	setenv BURGUT_TEST_CHROMIUM "$bin"
}

chromium_stop() { :; }
