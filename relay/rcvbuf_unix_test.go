//go:build !windows

package relay

import "syscall"

// setRcvbuf sets a socket's SO_RCVBUF (the fd's type differs on Windows).
func setRcvbuf(fd uintptr, n int) error {
	return syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}
