//go:build !linux

package groundstation

import (
	"errors"
	"syscall"
)

// socketMemInfo needs SO_MEMINFO (Linux); elsewhere the counters are
// unknown and not reported.
func (l *udpListener) socketMemInfo() (drops, rxQueueBytes uint64, err error) {
	return 0, 0, errors.New("udp socket meminfo: only on Linux")
}

func udpSocketMemInfo(syscall.Conn) (drops, rxQueueBytes uint64, err error) {
	return 0, 0, errors.New("udp socket meminfo: only on Linux")
}
