//go:build !linux

package groundstation

// sendBatch sends each datagram of b to its remote from the listener's
// socket, one system call each (Linux batches them), skipping those the
// kernel refuses. It returns how many were sent.
func (l *udpListener) sendBatch(b *udpBatch) int {
	sent := 0
	for i, to := range b.to {
		if _, err := l.pc.WriteToUDPAddrPort(b.data[i], to); err == nil {
			sent++
		}
	}
	return sent
}
