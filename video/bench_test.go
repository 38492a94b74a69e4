package video_test

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/cputime"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/video"
)

// BenchmarkRelay measures the relay under load: S streams, each sent as
// RTP H.264 over UDP at a given bitrate (1100-byte packets, a keyframe
// first), relayed to V WebRTC viewers each (pion clients in this process,
// over loopback). It reports the latency from the sender's write to a
// viewer's ReadRTP (p50/p99: the station's packet-in → packet-out plus
// two loopback hops and the viewer's SRTP decrypt), CPU seconds per wall
// second of the whole process (viewers included, so an upper bound for
// the station) and the heap in use. station_p50_us/station_p99_us are the
// station alone: source read → viewer WriteRTP returned, from the relay's
// Config.PacketTrace hook.
//
//	BURGUT_VIDEO_BENCH=streams,viewers,kbps,seconds (default 4,5,2000,10)
//	go test -run '^$' -bench Relay -benchtime 1x ./video/
func BenchmarkRelay(b *testing.B) {
	streams, viewers, kbps, secs := 4, 5, 2000, 10
	if v := os.Getenv("BURGUT_VIDEO_BENCH"); v != "" {
		if _, err := fmt.Sscanf(v, "%d,%d,%d,%d", &streams, &viewers, &kbps, &secs); err != nil {
			b.Fatalf("BURGUT_VIDEO_BENCH=%q: want streams,viewers,kbps,seconds", v)
		}
	}
	for range b.N {
		runRelayBench(b, streams, viewers, kbps, time.Duration(secs)*time.Second)
	}
}

const benchPayload = 1100

func runRelayBench(b *testing.B, streams, viewers, kbps int, dur time.Duration) {
	fl := fleet.New(fleet.DefaultConfig())
	ports := make([]int, streams)
	for i := range ports {
		ports[i] = testenv.FreeUDPPort(b)
		fl.Update(fmt.Sprintf("uav-%d", i), time.Now(), func(v *fleet.Vehicle) {
			v.Video = []fleet.VideoStream{{StreamID: 1, URI: fmt.Sprintf("udp://127.0.0.1:%d", ports[i]), Type: "rtpudp", Running: true}}
		})
	}
	// The station's own share: source read → viewer WriteRTP returned,
	// through the relay's measurement hook (collected only while measuring).
	var (
		stMu      sync.Mutex
		stLat     []time.Duration
		measuring atomic.Bool
	)
	trace := func(in, out time.Time) {
		if !measuring.Load() {
			return
		}
		stMu.Lock()
		stLat = append(stLat, out.Sub(in))
		stMu.Unlock()
	}
	r := startRelayOn(b, fl, video.Config{MaxViewers: viewers, PacketTrace: trace})
	var (
		sent     = make([][]int64, streams) // send time (unix ns) by packet counter
		mu       sync.Mutex
		lat      []time.Duration
		received atomic.Int64
	)
	total := int(float64(kbps*1000/8)/benchPayload*dur.Seconds()) + 2
	for i := range sent {
		sent[i] = make([]int64, total)
	}
	var clients []*webrtc.PeerConnection
	for i := range streams {
		for range viewers {
			v := watchPath(b, r.srv.URL, fmt.Sprintf("/api/v1/vehicles/uav-%d/video/1/whep", i), func(p *rtp.Packet) {
				if len(p.Payload) < 9 {
					return
				}
				n := binary.BigEndian.Uint32(p.Payload[1:5])
				if int(n) < total-1 {
					if at := atomic.LoadInt64(&sent[i][n]); at != 0 {
						d := time.Duration(time.Now().UnixNano() - at)
						mu.Lock()
						lat = append(lat, d)
						mu.Unlock()
					}
				}
				received.Add(1)
			})
			clients = append(clients, v.pc)
		}
	}
	// Wait for every viewer to connect (a keyframe primes it).
	conns := make([]*net.UDPConn, streams)
	for i := range conns {
		c, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ports[i]})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	send := func(i int, seq uint16, n uint32, nal byte, marker bool) {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: seq, Timestamp: n * 3000, SSRC: uint32(1000 + i), Marker: marker}}
		p.Payload = make([]byte, benchPayload)
		p.Payload[0] = nal
		binary.BigEndian.PutUint32(p.Payload[1:5], n)
		if int(n) < total {
			atomic.StoreInt64(&sent[i][n], time.Now().UnixNano())
		}
		buf, _ := p.Marshal()
		_, _ = conns[i].Write(buf)
	}
	// Keyframes until every viewer receives.
	deadline := time.Now().Add(60 * time.Second)
	for k := uint32(0); ; k++ {
		all := true
		for _, s := range r.hub.Stats() {
			if s.Viewers < viewers {
				all = false
			}
		}
		if all && received.Load() >= int64(streams*viewers*2) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("viewers did not connect: %+v", r.hub.Stats())
		}
		for i := range streams {
			send(i, uint16(k), uint32(total-1), 0x65, true) // IDR, counter outside the measured range
		}
		time.Sleep(100 * time.Millisecond)
	}
	mu.Lock()
	lat = lat[:0]
	mu.Unlock()
	measuring.Store(true)
	cpu0 := cputime.Process()
	start := time.Now()
	interval := time.Duration(float64(time.Second) * benchPayload * 8 / float64(kbps*1000))
	var wg sync.WaitGroup
	for i := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(interval)
			defer t.Stop()
			for n := 0; n < total-2; n++ {
				<-t.C
				nal := byte(0x41) // non-IDR slice
				if n%300 == 0 {
					nal = 0x65
				}
				send(i, uint16(1000+n), uint32(n), nal, true)
			}
		}()
	}
	wg.Wait()
	time.Sleep(500 * time.Millisecond)
	measuring.Store(false)
	wall := time.Since(start)
	cpu := cputime.Process() - cpu0
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	mu.Lock()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	n := len(lat)
	expected := streams * viewers * (total - 2)
	var p50, p99, max time.Duration
	if n > 0 {
		p50, p99, max = lat[n/2], lat[n*99/100], lat[n-1]
	}
	mu.Unlock()
	stMu.Lock()
	sort.Slice(stLat, func(i, j int) bool { return stLat[i] < stLat[j] })
	var sp50, sp99, smax time.Duration
	if sn := len(stLat); sn > 0 {
		sp50, sp99, smax = stLat[sn/2], stLat[sn*99/100], stLat[sn-1]
	}
	sn := len(stLat)
	stMu.Unlock()
	b.ReportMetric(float64(sp50.Microseconds()), "station_p50_us")
	b.ReportMetric(float64(sp99.Microseconds()), "station_p99_us")
	b.Logf("station alone (source read → viewer WriteRTP returned, %d packet-viewer pairs): p50 %v p99 %v max %v", sn, sp50, sp99, smax)
	b.ReportMetric(float64(p50.Microseconds()), "p50_us")
	b.ReportMetric(float64(p99.Microseconds()), "p99_us")
	b.ReportMetric(cpu.Seconds()/wall.Seconds(), "cpu_cores")
	// On a loaded machine the senders fall behind (wall > dur): CPU per
	// second of media sent is the load the traffic itself costs.
	b.ReportMetric(cpu.Seconds()/dur.Seconds(), "cpu_s_per_media_s")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap_MiB")
	b.ReportMetric(100*float64(expected-n)/float64(expected), "lost_pct")
	b.Logf("%d streams × %d viewers at %d kbit/s, %v of media sent in %v: %d/%d packets delivered, latency p50 %v p99 %v max %v, CPU %.2f s (viewers included), heap %.1f MiB",
		streams, viewers, kbps, dur, wall.Round(time.Millisecond), n, expected, p50, p99, max, cpu.Seconds(), float64(ms.HeapInuse)/(1<<20))
	for _, c := range clients {
		_ = c.Close()
	}
}
