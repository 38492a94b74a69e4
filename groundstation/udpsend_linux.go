package groundstation

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// sendBatch sends each datagram of b to its remote from the listener's
// socket, with as few sendmmsg calls as the kernel allows (one when it
// takes them all). A datagram the kernel refuses (its error is reported
// for the first datagram of a call) is skipped; the rest are still sent.
// It returns how many were sent.
func (l *udpListener) sendBatch(b *udpBatch) int {
	n := len(b.to)
	if n == 0 {
		return 0
	}
	names := make([]unix.RawSockaddrInet4, n)
	iovs := make([]unix.Iovec, n)
	msgs := make([]mmsghdr, n)
	for i := range n {
		ap := b.to[i]
		names[i].Family = unix.AF_INET
		pb := (*[2]byte)(unsafe.Pointer(&names[i].Port)) // network byte order
		pb[0], pb[1] = byte(ap.Port()>>8), byte(ap.Port())
		names[i].Addr = ap.Addr().Unmap().As4()
		iovs[i].Base = &b.data[i][0]
		iovs[i].SetLen(len(b.data[i]))
		msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&names[i]))
		msgs[i].hdr.Namelen = uint32(unsafe.Sizeof(names[i]))
		msgs[i].hdr.Iov = &iovs[i]
		msgs[i].hdr.Iovlen = 1
	}
	rc, err := l.pc.SyscallConn()
	if err != nil {
		return 0
	}
	sent, next := 0, 0
	_ = rc.Write(func(fd uintptr) bool {
		for next < n {
			r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&msgs[next])), uintptr(n-next),
				unix.MSG_DONTWAIT, 0, 0)
			switch e {
			case 0:
				sent += int(r)
				next += int(r)
			case unix.EINTR:
			case unix.EAGAIN:
				return false // the socket's send buffer is full: wait until writable
			default:
				next++ // this datagram is refused (e.g. no route): skip it
			}
		}
		return true
	})
	return sent
}
