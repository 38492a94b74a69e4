//go:build linux

// Command wakecost measures what one sleep-and-wake of a thread costs in
// CPU on this machine, five ways: the raw clock_nanosleep system call,
// holding the goroutine's P (raw, rawabs); the same call through Go's
// system-call path (rel, abs), where the runtime's monitor takes the P
// from the sleeping thread and the thread has to get one back when it
// wakes; and Go's timer (time.Sleep). abs and rawabs sleep to the next
// multiple of the period on the wall clock, as the UDP readers' batch
// clock (groundstation/batchclock_linux.go) does. burgut serve's threads
// sleep and wake a few thousand times a second at 2,000 vehicles
// (scripts/bench-serve.sh prints csw/s), and on a virtual machine each
// of those costs far more than on bare metal: BENCHMARKS.md says what it
// measured here and what that means for the CPU per message.
//
//	go run ./scripts/wakecost -period 2ms -seconds 5
package main

import (
	"flag"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		fmt.Fprintln(os.Stderr, "wakecost: getrusage:", err)
		os.Exit(1)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	period := flag.Duration("period", 2*time.Millisecond, "sleep per wake-up")
	seconds := flag.Float64("seconds", 5, "how long each way is measured")
	flag.Parse()
	if *period <= 0 || *seconds <= 0 {
		fmt.Fprintln(os.Stderr, "wakecost: -period and -seconds must be positive")
		os.Exit(2)
	}
	w := int64(*period)
	rel := unix.NsecToTimespec(w)
	ways := []struct {
		name, what string
		sleep      func()
	}{
		{"raw", "relative, raw system call (keeps the P)", func() {
			_, _, _ = unix.RawSyscall6(unix.SYS_CLOCK_NANOSLEEP, unix.CLOCK_MONOTONIC, 0, uintptr(unsafe.Pointer(&rel)), 0, 0, 0)
		}},
		{"rel", "relative, through the runtime", func() {
			_ = unix.ClockNanosleep(unix.CLOCK_MONOTONIC, 0, &rel, nil)
		}},
		{"rawabs", "next multiple of the period on the wall clock, raw", func() {
			ts := unix.NsecToTimespec((time.Now().UnixNano()/w + 1) * w)
			_, _, _ = unix.RawSyscall6(unix.SYS_CLOCK_NANOSLEEP, unix.CLOCK_REALTIME, unix.TIMER_ABSTIME, uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		}},
		{"abs", "next multiple on the wall clock, through the runtime: the batch clock's sleep", func() {
			ts := unix.NsecToTimespec((time.Now().UnixNano()/w + 1) * w)
			_ = unix.ClockNanosleep(unix.CLOCK_REALTIME, unix.TIMER_ABSTIME, &ts, nil)
		}},
		{"time.Sleep", "Go's timer", func() { time.Sleep(*period) }},
	}
	for _, way := range ways {
		c0, t0, n := cpuTime(), time.Now(), 0
		for time.Since(t0).Seconds() < *seconds {
			way.sleep()
			n++
		}
		d := cpuTime() - c0
		fmt.Printf("%-10s %6d wake-ups  %5.1f µs of CPU each  (%s)\n", way.name, n, float64(d.Nanoseconds())/1e3/float64(n), way.what)
	}
}
