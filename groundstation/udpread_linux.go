package groundstation

import (
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// readBatch bounds how many datagrams the reader takes per wake-up before
// it lets the runtime check for a close.
const readBatch = 64

// readLoop reads the socket until it is closed. It reads without blocking
// (recvfrom with MSG_DONTWAIT inside the runtime's poller callback) until
// the socket is empty; finding it empty is the moment everything received
// so far is staged, which the link's heartbeat checks rely on.
func (l *udpListener) readLoop() {
	defer l.wg.Done()
	rc, err := l.pc.SyscallConn()
	if err != nil {
		return
	}
	buf := make([]byte, 65536)
	var sa unix.RawSockaddrInet4
	read := func(fd uintptr) bool {
		for range readBatch {
			salen := uint32(unsafe.Sizeof(sa))
			n, _, e := unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)),
				unix.MSG_DONTWAIT, uintptr(unsafe.Pointer(&sa)), uintptr(unsafe.Pointer(&salen)))
			switch e {
			case 0:
			case unix.EAGAIN:
				l.emptyAt.Store(time.Now().UnixNano())
				l.waiting.Store(true)
				return false // wait for the poller
			case unix.EINTR:
				continue
			default:
				continue // e.g. ECONNREFUSED reported for an earlier send: keep reading
			}
			l.waiting.Store(false)
			l.datagrams.Add(1)
			pb := (*[2]byte)(unsafe.Pointer(&sa.Port)) // network byte order
			port := uint16(pb[0])<<8 | uint16(pb[1])
			l.deliver(netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port), buf[:n], time.Now())
		}
		return true
	}
	for {
		if err := rc.Read(read); err != nil {
			return // closed
		}
	}
}
