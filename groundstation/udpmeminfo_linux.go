package groundstation

import (
	"fmt"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// socketMemInfo asks the kernel for the counters of the listener's own
// socket (SO_MEMINFO, Linux ≥ 4.12): datagrams dropped because the receive
// buffer was full (sk_drops, the "drops" column of /proc/net/udp) and the
// bytes waiting in that buffer. Asking the socket itself is exact; a scan
// of /proc/net/udp is read a page (~31 sockets) per read(2) and resumed by
// position, so on a machine where other sockets come and go between two
// reads (load generators, parallel tests) it can skip the link's socket,
// and its series vanished from /metrics now and then.
func (l *udpListener) socketMemInfo() (drops, rxQueueBytes uint64, err error) {
	if cerr := l.sock.withFD(func(fd int) error {
		drops, rxQueueBytes, err = fdMemInfo(uintptr(fd))
		return nil
	}); cerr != nil {
		return 0, 0, fmt.Errorf("udp socket meminfo: %w", cerr)
	}
	return drops, rxQueueBytes, err
}

// udpSocketMemInfo is socketMemInfo of any UDP socket (a UDP client
// link's too).
func udpSocketMemInfo(pc syscall.Conn) (drops, rxQueueBytes uint64, err error) {
	rc, err := pc.SyscallConn()
	if err != nil {
		return 0, 0, fmt.Errorf("udp socket meminfo: %w", err)
	}
	if cerr := rc.Control(func(fd uintptr) {
		drops, rxQueueBytes, err = fdMemInfo(fd)
	}); cerr != nil {
		return 0, 0, fmt.Errorf("udp socket meminfo: %w", cerr)
	}
	return drops, rxQueueBytes, err
}

// fdMemInfo is udpSocketMemInfo of a socket descriptor.
func fdMemInfo(fd uintptr) (drops, rxQueueBytes uint64, err error) {
	var mi [unix.SK_MEMINFO_VARS]uint32
	n := uint32(unsafe.Sizeof(mi))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_SOCKET, unix.SO_MEMINFO,
		uintptr(unsafe.Pointer(&mi[0])), uintptr(unsafe.Pointer(&n)), 0); e != 0 {
		return 0, 0, fmt.Errorf("udp socket meminfo: getsockopt SO_MEMINFO: %w", e)
	}
	return uint64(mi[unix.SK_MEMINFO_DROPS]), uint64(mi[unix.SK_MEMINFO_RMEM_ALLOC]), nil
}
