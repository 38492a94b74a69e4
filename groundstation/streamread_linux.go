package groundstation

import (
	"io"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// probeSocket is c's socket, for reads that see the kernel's queue empty
// (readSocket) and for its length (queued): TCP and UDP sockets.
func probeSocket(c net.Conn) syscall.RawConn {
	switch c.(type) {
	case *net.TCPConn, *net.UDPConn:
	default:
		return nil
	}
	rc, err := c.(syscall.Conn).SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// readSocket reads the socket itself, through the runtime's poller (so
// deadlines and Close still end it), to see the moment the kernel's queue
// is empty: read(2) answering EAGAIN. Everything received before then has
// been read, and since the reader asks for more only once it has handed
// on every whole frame it holds, handed on.
func (r *readProbe) readSocket(p []byte, stream bool) (n int, err error) {
	var rerr error
	err = r.sock.Read(func(fd uintptr) bool {
		r.parked.Store(0)
		for {
			n, rerr = unix.Read(int(fd), p)
			if rerr != unix.EINTR {
				break
			}
		}
		if rerr == unix.EAGAIN {
			r.empty.Store(time.Now().UnixNano())
			r.park()
			return false // wait for the poller
		}
		return true
	})
	r.parked.Store(0)
	if err != nil {
		return 0, err
	}
	if rerr != nil {
		return 0, &net.OpError{Op: "read", Net: "mavlink", Err: rerr}
	}
	if n == 0 && stream && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// queued is the bytes waiting in the socket's receive queue (SIOCINQ; on
// a UDP socket, the size of the next datagram); known is false when the
// kernel cannot say (no socket, or closed).
func (r *readProbe) queued() (n int, known bool) {
	if r.sock == nil {
		return 0, false
	}
	var ierr error
	if err := r.sock.Control(func(fd uintptr) {
		n, ierr = unix.IoctlGetInt(int(fd), unix.SIOCINQ)
	}); err != nil || ierr != nil {
		return 0, false
	}
	return n, true
}
