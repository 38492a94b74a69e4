//go:build !linux

package groundstation

import (
	"errors"
	"net"
	"syscall"
)

// probeSocket needs read(2) on the socket and SIOCINQ (Linux); elsewhere
// a stream's reader is trusted as caught up while it waits.
func probeSocket(net.Conn) syscall.RawConn { return nil }

func (r *readProbe) readSocket([]byte, bool) (int, error) {
	return 0, errors.New("mavlink: socket reads need Linux")
}

func (r *readProbe) queued() (int, bool) { return 0, false }
