package groundstation

import "syscall"

// getsockoptRcvbuf reads SO_RCVBUF of the socket fd.
func getsockoptRcvbuf(fd uintptr) (int, error) {
	return syscall.GetsockoptInt(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF)
}
