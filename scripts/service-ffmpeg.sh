# ffmpeg, the real encoder the simulator's cameras (`--video`) and the video
# relay's tests use as sources (sourced by services.sh), with the font its
# drawtext overlay needs. Nothing runs here: the simulator and each test
# start their own ffmpeg processes. Exports BURGUT_TEST_FFMPEG.

ffmpeg_start() {
	apt_install ffmpeg fonts-dejavu-core
	local bin
	bin=$(command -v ffmpeg || true)
	if [ -z "$bin" ]; then
		echo "ffmpeg not found after installing it" >&2
		return 1
	fi
	setenv BURGUT_TEST_FFMPEG "$bin"
}

ffmpeg_stop() { :; }
