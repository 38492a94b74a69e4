package simulator

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/bluenviron/gomavlib/v3/pkg/frame"
)

// The per-vehicle TCP server (ArduPilot SITL's 5760+10·i): a third-party
// tool connects to one vehicle and gets the same traffic as the UDP ground
// station, without link faults.

// tcpQueue bounds what a slow TCP client may lag behind; beyond it frames
// are dropped for that client only.
const tcpQueue = 256

type tcpClient struct {
	conn net.Conn
	out  chan []byte
}

// send queues a frame for the client; called with sv.mu held, never blocks.
func (c *tcpClient) send(b []byte) {
	select {
	case c.out <- append([]byte(nil), b...):
	default:
	}
}

// serveTCP accepts clients until ctx is cancelled. Each client has a
// reader and a writer goroutine, both owned by wg.
func (sv *SimVehicle) serveTCP(ctx context.Context, ln net.Listener, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
				sv.log.Warn("tcp accept failed", "err", err)
			}
			return
		}
		c := &tcpClient{conn: conn, out: make(chan []byte, tcpQueue)}
		sv.mu.Lock()
		sv.tcp[c] = struct{}{}
		sv.mu.Unlock()
		sv.log.Info("tcp client connected", "remote", conn.RemoteAddr())
		done := make(chan struct{})
		wg.Add(3)
		go func() { // writer
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case <-done:
					return
				case b := <-c.out:
					if _, err := conn.Write(b); err != nil {
						return
					}
				}
			}
		}()
		go func() { // reader
			defer wg.Done()
			defer close(done)
			sv.readTCP(c)
			sv.mu.Lock()
			delete(sv.tcp, c)
			sv.mu.Unlock()
			conn.Close()
			sv.log.Info("tcp client disconnected", "remote", conn.RemoteAddr())
		}()
		go func() { // closes the connection on shutdown so the reader returns
			defer wg.Done()
			select {
			case <-ctx.Done():
				conn.Close()
			case <-done:
			}
		}()
	}
}

func (sv *SimVehicle) readTCP(c *tcpClient) {
	rd := &frame.Reader{BufByteReader: bufio.NewReaderSize(c.conn, 512), DialectRW: dialectRW}
	if err := rd.Initialize(); err != nil {
		sv.log.Error("tcp frame reader", "err", err)
		return
	}
	for {
		fr, err := rd.Read()
		if err != nil {
			var re frame.ReadError
			if errors.As(err, &re) {
				sv.mu.Lock()
				sv.rxErrors++
				sv.warn("malformed MAVLink frame on tcp dropped", "err", err)
				sv.mu.Unlock()
				continue
			}
			return
		}
		sv.mu.Lock()
		sv.handleFrame(fr, true) // the trusted channel, like ArduPilot's channel 0
		sv.mu.Unlock()
	}
}

func listenTCP(host string, port int) (net.Listener, error) {
	ln, err := net.Listen("tcp4", fmt.Sprintf("%s:%d", host, port))
	if err != nil {
		return nil, fmt.Errorf("listen tcp %s:%d: %w", host, port, err)
	}
	return ln, nil
}
