package groundstation

import (
	"net/netip"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// readBatch is how many datagrams one recvmmsg call takes at most, and
// readRounds how many calls the reader makes per wake-up before it lets
// the runtime check for a close.
const (
	readBatch  = 32
	readRounds = 4
	// readSlot is each datagram's buffer: the largest UDP payload, so a
	// datagram is never truncated (the kernel touches only the pages it
	// writes: ~4 KiB of each slot for MAVLink's small datagrams).
	readSlot = 65536
)

// udpBusyRate is the datagram rate (per second, over udpRateWindow) from
// which a socket counts as busy and its reader batches (batchWait).
const (
	udpBusyRate   = 1000
	udpRateWindow = 100 * time.Millisecond
)

// lingerEmpty is how many reads in a row a busy socket's reader may find
// the socket empty and still wait for the clock rather than for the next
// datagram (10 ms at the readers' 2 ms). A busy socket found empty at one
// tick — its datagrams bunched by the senders' or this machine's
// scheduling — has more within a tick or two; waiting for them in epoll
// holds the reader's P in a blocking system call, which the runtime's
// monitor takes back (a hand-off and a thread woken, and the monitor
// kept polling at its shortest period). In a 2 s runtime trace of burgut
// serve at 2,000 vehicles on a busy machine (scripts/bench-serve.sh) the
// readers' epoll waits lost their P 284 times a second, the batch clock's
// sleep 82 times and every other system call together 12 times; with
// this linger serve switched threads 35 % less often there and used 11 %
// less CPU per message (BENCHMARKS.md). A socket that really went quiet
// is waited for in epoll after these reads, and stops counting as busy
// within udpRateWindow.
const lingerEmpty = 5

// mmsghdr is struct mmsghdr of recvmmsg(2): a msghdr and the length the
// kernel received into it (Go pads it to the C layout on 32 and 64 bits).
type mmsghdr struct {
	hdr unix.Msghdr
	n   uint32
}

// readLoop reads the socket until it is closed. It reads without blocking
// (recvmmsg with MSG_DONTWAIT, up to readBatch datagrams per call) until
// the socket is empty, then waits for the next datagram in the socket's
// own epoll instance (udpSock: outside Go's poller); finding it
// empty is the moment everything received so far is staged, which the
// link's heartbeat checks rely on. It signals the link once per emptied
// socket, not per datagram.
//
// On a busy socket (udpBusyRate datagrams/s or more) and with a batchWait,
// the reader does not wait for the next datagram when it has emptied the
// socket: it waits until the next multiple of batchWait on the clock
// (batchClock: one goroutine sleeping in the kernel wakes every link's
// reader) and reads what arrived meanwhile, and it keeps to the clock
// through up to lingerEmpty reads that find the socket empty before it
// waits in epoll again. A poller wake-up per datagram made the
// process go idle and wake again ~10,000 times a second at 1,000 vehicles
// (18,000 datagrams/s), and those thread switches, not the work, were the
// largest single cost of the whole station; rounding the wake-up to the
// clock lets every link's reader wake together. A datagram waits at most
// batchWait longer (its time stays the kernel's receive time, so the wait
// shows in the socket latency stage); a quiet socket (a handful of
// vehicles, an upload's round trips) is read as soon as a datagram
// arrives, as before. With ~9 datagrams waiting per link at each wake-up
// (1,000 vehicles), one recvmmsg takes them all: one system call where
// recvmsg needed ten (the last finding the socket empty).
//
// Each datagram carries the kernel's receive timestamp (SO_TIMESTAMPNS):
// the moment it arrived, not the moment this goroutine got a CPU to read
// it. That is the datagram's time from here on (a vehicle's last_seen,
// the origin of the latency stages), so time spent waiting in the socket
// is measured instead of hidden (burgut_pipeline_latency_seconds).
func (l *udpListener) readLoop() {
	defer l.wg.Done()
	// The socket stays open until this returns (Close releases it after).
	fd := uintptr(l.sock.fd)
	_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1) // without it: the read time
	// The receive slots (2 MiB) are mapped outside the Go heap: the kernel
	// touches only the pages it writes (~4 KiB of each slot for MAVLink's
	// datagrams), but on the heap the whole 2 MiB a link counted as live
	// and raised the collector's goal — and so the garbage it lets pile up
	// — by GOGC% of it (nine links at GOGC 200: ~36 MB of RSS).
	bufs, err := unix.Mmap(-1, 0, readBatch*readSlot, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		bufs = make([]byte, readBatch*readSlot)
	} else {
		defer func() { _ = unix.Munmap(bufs) }()
	}
	var (
		names [readBatch]unix.RawSockaddrInet4
		oobs  [readBatch][64]byte // one SCM_TIMESTAMPNS message each: CmsgSpace(16) = 32 bytes
		iovs  [readBatch]unix.Iovec
		msgs  [readBatch]mmsghdr
	)
	for i := range msgs {
		iovs[i].Base = &bufs[i*readSlot]
		iovs[i].SetLen(readSlot)
		msgs[i].hdr.Name = (*byte)(unsafe.Pointer(&names[i]))
		msgs[i].hdr.Iov = &iovs[i]
		msgs[i].hdr.Iovlen = 1
		msgs[i].hdr.Control = &oobs[i][0]
	}
	var (
		busy     bool
		winStart time.Time
		winCount int
		linger   bool // the last read emptied a busy socket: wait, then read again
		empties  int  // reads in a row that found the socket empty
	)
	// read empties the socket as far as it can without waiting; it
	// reports false when the reader should wait for the next datagram
	// (a quiet socket found empty), true when it should not (it lingers
	// for the clock, or the socket may hold more).
	read := func() bool {
		if h := l.readHook.Load(); h != nil {
			(*h)()
		}
		staged := false
		for range readRounds {
			for i := range msgs {
				msgs[i].hdr.Namelen = uint32(unsafe.Sizeof(names[i]))
				msgs[i].hdr.SetControllen(len(oobs[i]))
				msgs[i].hdr.Flags = 0
			}
			before := time.Now()
			r, _, e := unix.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&msgs[0])), readBatch,
				unix.MSG_DONTWAIT, 0, 0)
			n := 0
			switch e {
			case 0:
				n = int(r)
			case unix.EAGAIN:
			case unix.EINTR:
				continue
			default:
				continue // e.g. ECONNREFUSED reported for an earlier send: keep reading
			}
			if n > 0 {
				l.waiting.Store(false)
				l.datagrams.Add(uint64(n))
				winCount += n
				now := time.Now().UnixNano()
				for i := range n {
					sa := &names[i]
					pb := (*[2]byte)(unsafe.Pointer(&sa.Port)) // network byte order
					port := uint16(pb[0])<<8 | uint16(pb[1])
					data := bufs[i*readSlot : i*readSlot+int(msgs[i].n)]
					if l.deliver(netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), port), data, kernelTime(&msgs[i].hdr, &oobs[i], now), now) {
						staged = true
					}
				}
			}
			if n == readBatch {
				continue // there may be more
			}
			// Fewer than asked for: the socket was empty when the call
			// ended, so everything that arrived before it began is staged.
			l.emptyAt.Store(before.UnixNano())
			readSome := !l.waiting.Swap(true)
			if staged {
				l.signal()
			}
			if d := before.Sub(winStart); d >= udpRateWindow {
				busy = float64(winCount) >= udpBusyRate*d.Seconds()
				winStart, winCount = before, 0
			}
			// Wait for the next datagram unless the socket is busy and
			// this read or one of the lingerEmpty before it found
			// datagrams: then wait batchWait and read again.
			if readSome {
				empties = 0
			} else {
				empties++
			}
			linger = l.batchWait > 0 && busy && empties <= lingerEmpty
			return linger
		}
		if staged {
			l.signal()
		}
		linger = false
		return true
	}
	var tick <-chan struct{}
	want := func() {}
	if l.batchWait > 0 {
		var cancel func()
		tick, want, cancel = subscribeBatchClock(l.batchWait)
		defer cancel()
	}
	for {
		select {
		case <-l.done:
			return
		default:
		}
		more := read()
		if linger {
			// Until the next multiple of batchWait on the clock, or the
			// listener closes.
			want()
			select {
			case <-tick:
			case <-l.done:
				return
			}
			continue
		}
		if !more {
			l.inEpoll.Store(true)
			err := l.sock.waitReadable()
			l.inEpoll.Store(false)
			if err != nil {
				return // closing
			}
		}
	}
}

// kernelTime is the SCM_TIMESTAMPNS receive time recvmsg returned in oob
// (Unix ns), or now when there is none.
func kernelTime(msg *unix.Msghdr, oob *[64]byte, now int64) int64 {
	if int(msg.Controllen) < unix.CmsgLen(int(unsafe.Sizeof(unix.Timespec{}))) {
		return now
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	if h.Level != unix.SOL_SOCKET || h.Type != unix.SCM_TIMESTAMPNS {
		return now
	}
	ts := (*unix.Timespec)(unsafe.Pointer(&oob[unix.CmsgLen(0)]))
	if at := ts.Nano(); at > 0 && at <= now {
		return at
	}
	return now
}
