package relay

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/burgut-uav/burgut/fleet"
	"github.com/burgut-uav/burgut/internal/testenv"
)

// feed updates every vehicle at hz (spread evenly) until ctx ends; the
// update time stands in for the MAVLink arrival time.
func feed(ctx context.Context, f *fleet.Fleet, ids []string, hz float64) {
	perTick := max(1, len(ids)/100)
	interval := time.Duration(float64(time.Second) * float64(perTick) / (hz * float64(len(ids))))
	t := time.NewTicker(interval)
	defer t.Stop()
	i, step := 0, 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for k := 0; k < perTick; k++ {
			id := ids[i]
			f.Update(id, time.Now(), func(v *fleet.Vehicle) {
				v.Lat = 41.3 + float64(step%1000)*1e-5
				v.Lon = 69.2 + float64(i)*1e-5
				v.Mode = "AUTO"
				v.BatteryPct = 80
			})
			i++
			if i == len(ids) {
				i, step = 0, step+1
			}
		}
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// BenchmarkStreamFanout measures the latency from a fleet update (the
// stand-in for MAVLink arrival: fleet.Update is what the ground station
// calls per decoded message) to delivery of that state over the WebSocket,
// for vehicles × clients, each vehicle updated at 4 Hz, each client asking
// for every update (rate_hz 1000: no rate coalescing). Reports p50/p99.
func BenchmarkStreamFanout(b *testing.B) {
	for _, vehicles := range []int{10, 100, 500, 1000} {
		for _, clients := range []int{1, 10, 50, 100, 200} {
			b.Run(fmt.Sprintf("vehicles=%d/clients=%d", vehicles, clients), func(b *testing.B) {
				benchFanout(b, vehicles, clients, 3*time.Second)
			})
		}
	}
}

func benchFanout(b *testing.B, vehicles, clients int, dur time.Duration) {
	f := fleet.New(fleet.DefaultConfig())
	ids := make([]string, vehicles)
	for i := range ids {
		ids[i] = fmt.Sprintf("v%04d", i)
		f.Update(ids[i], time.Now(), func(v *fleet.Vehicle) { v.Lat, v.Lon = 41.3, 69.2 })
	}
	h, url := startHub(b, f, HubConfig{MaxRateHz: 1000, DefaultRateHz: 1000, PingInterval: time.Hour})
	var mu sync.Mutex
	var lat []time.Duration
	var frames atomic.Uint64
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(context.Background())
	for c := 0; c < clients; c++ {
		conn := dial(b, url)
		wg.Add(1)
		go func() {
			defer wg.Done()
			go func() { <-ctx.Done(); conn.Close() }()
			local := make([]time.Duration, 0, 4096)
			defer func() { mu.Lock(); lat = append(lat, local...); mu.Unlock() }()
			for {
				_, data, err := conn.ReadMessage()
				if err != nil {
					return
				}
				now := time.Now()
				var fr struct {
					Type     string `json:"type"`
					Vehicles []struct {
						Updated time.Time `json:"updated"`
					} `json:"vehicles"`
				}
				if err := json.Unmarshal(data, &fr); err != nil {
					return
				}
				if fr.Type != "state" {
					continue
				}
				frames.Add(1)
				for _, v := range fr.Vehicles {
					local = append(local, now.Sub(v.Updated))
				}
			}
		}()
	}
	testenv.Eventually(b, 30*time.Second, "clients connected", func() bool { return h.Stats().Clients == int64(clients) })
	b.ResetTimer()
	fctx, fcancel := context.WithTimeout(ctx, dur)
	feed(fctx, f, ids, 4)
	fcancel()
	time.Sleep(200 * time.Millisecond) // let the last frames arrive
	dropped := h.Stats().Dropped
	cancel()
	wg.Wait()
	b.StopTimer()
	p50, p99 := percentile(lat, 0.50), percentile(lat, 0.99)
	b.ReportMetric(float64(p50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(len(lat))/dur.Seconds(), "deliveries/s")
	b.ReportMetric(float64(dropped), "dropped-clients")
}

// BenchmarkMQTTPublish2000Vehicles runs the publisher with 2,000 vehicles
// at 2 Hz state (4,000 msg/s asked for) and counts what a real subscriber
// receives, on the embedded broker and on Mosquitto; then the same at
// 10 Hz to find the ceiling.
func BenchmarkMQTTPublish2000Vehicles(b *testing.B) {
	for _, broker := range []string{"embedded", "mosquitto"} {
		for _, rate := range []float64{2, 10} {
			b.Run(fmt.Sprintf("broker=%s/rate=%gHz", broker, rate), func(b *testing.B) {
				var url, user, pass string
				if broker == "mosquitto" {
					url = testenv.Service(b, "BURGUT_TEST_MQTT_URL")
				} else {
					br, err := NewBroker(BrokerConfig{Listen: "127.0.0.1:0", Auth: brokerAuth, Log: quietLog()})
					if err != nil {
						b.Fatal(err)
					}
					defer br.Close()
					url = br.URL()
					user, pass = br.Credentials()
				}
				benchMQTT(b, url, user, pass, 2000, rate, 5*time.Second)
			})
		}
	}
}

func benchMQTT(b *testing.B, url, user, pass string, vehicles int, rate float64, dur time.Duration) {
	station := uniqueStation(b)
	f := fleet.New(fleet.DefaultConfig())
	ids := make([]string, vehicles)
	for i := range ids {
		ids[i] = fmt.Sprintf("v%04d", i)
		f.Update(ids[i], time.Now(), func(v *fleet.Vehicle) { v.Lat, v.Lon = 41.3, 69.2 })
	}
	var got atomic.Uint64
	var mu sync.Mutex
	var lat []time.Duration
	opts := mqtt.NewClientOptions().AddBroker(url).SetClientID(station + "-sub").SetOrderMatters(false)
	sub := mqtt.NewClient(opts)
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("subscriber: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	var counting atomic.Bool
	tok := sub.Subscribe("burgut/v1/"+station+"/vehicles/+/state", 0, func(_ mqtt.Client, m mqtt.Message) {
		if !counting.Load() || m.Retained() {
			return
		}
		got.Add(1)
		var s struct {
			Updated time.Time `json:"updated"`
		}
		if json.Unmarshal(m.Payload(), &s) == nil && strings.HasSuffix(m.Topic(), "0/state") {
			mu.Lock()
			lat = append(lat, time.Since(s.Updated))
			mu.Unlock()
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		b.Fatalf("subscribe: %v", tok.Error())
	}
	p, err := NewPublisher(f, PublisherConfig{BrokerURL: url, Station: station, Username: user, Password: pass,
		StateRate: rate, StoreDir: b.TempDir(), Log: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	runPublisher(b, p)
	testenv.Eventually(b, 10*time.Second, "publisher connected", p.Connected)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go feed(ctx, f, ids, rate*2) // fresh data every publish period
	time.Sleep(time.Second)      // warm up
	b.ResetTimer()
	counting.Store(true)
	start := p.Stats().States
	time.Sleep(dur)
	counting.Store(false)
	published := p.Stats().States - start
	b.StopTimer()
	want := float64(vehicles) * rate
	b.ReportMetric(want, "wanted-msg/s")
	b.ReportMetric(float64(published)/dur.Seconds(), "published-msg/s")
	b.ReportMetric(float64(got.Load())/dur.Seconds(), "received-msg/s")
	mu.Lock()
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99-update-to-subscriber-ms")
	mu.Unlock()
}

// BenchmarkStreamRates measures the state frames per second a client asking
// for 1 Hz and one asking for 50 Hz get while one vehicle updates at 100 Hz
// for 2 s: the targets are the requested rates (1 and 50 frames/s).
func BenchmarkStreamRates(b *testing.B) {
	var slowFrames, fastFrames int
	var secs float64
	for range b.N {
		f := fleet.New(fleet.DefaultConfig())
		fly(f, "v0", 0, nil)
		_, url := startHub(b, f, HubConfig{MaxRateHz: 50})
		slowConn, fastConn := dial(b, url+"?rate_hz=1"), dial(b, url+"?rate_hz=50")
		slow, fast := readStates(slowConn), readStates(fastConn)
		start := time.Now()
		for i := 1; time.Since(start) < 2*time.Second; i++ {
			fly(f, "v0", i, nil)
			time.Sleep(10 * time.Millisecond)
		}
		secs += time.Since(start).Seconds()
		ns, _ := slow.get()
		nf, _ := fast.get()
		slowFrames += ns
		fastFrames += nf
		slowConn.Close()
		fastConn.Close()
		<-slow.done
		<-fast.done
	}
	b.ReportMetric(float64(slowFrames)/secs, "frames_1hz/s")
	b.ReportMetric(float64(fastFrames)/secs, "frames_50hz/s")
}
