package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/relay"
)

func TestBadRelaySettingsNameTheSetting(t *testing.T) {
	for args, want := range map[string]string{
		"--mqtt broker:1883":                  "mqtt",
		"--state-rate 0":                      "state-rate",
		"--stale-after 0s":                    "stale-after",
		"--ws-rate 60 --ws-max-rate 50":       "ws-rate",
		"--ws-max-queue 0":                    "ws-max-queue",
		"--ws-origin console.example":         "ws-origin",
		"--mqtt-ws-listen 127.0.0.1:http":     "mqtt-ws-listen",
		"--mqtt-listen localhost":             "mqtt-listen",
		"--ws-max-clients -1":                 "ws-max-clients",
		"--stale-after soon":                  "stale-after",
		"--mqtt-listen 127.0.0.1:99999":       "mqtt-listen",
		"--ws-origin http://ok --ws-origin x": "ws-origin",
	} {
		_, err := Load("serve", strings.Fields(args), false, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want one naming %q", args, err, want)
		}
	}
}

// runRelayApp runs the real app with a simulated fleet of n vehicles over
// loopback UDP until the test ends.
func runRelayApp(t *testing.T, n int, edit func(*Config)) *App {
	t.Helper()
	a, _ := runApp(t, func(c *Config) {
		c.Sim.Vehicles = n
		edit(c)
	})
	return a
}

// collect subscribes to the station's state topics at url and returns the
// vehicle ids seen so far.
// It logs in as the monitoring center would: an observer API token as the
// MQTT password, and as Bearer on the WebSocket upgrade (an external
// broker ignores both).
func relayCollect(t *testing.T, a *App, url string) func() map[string]bool {
	t.Helper()
	station := a.Config.Station
	secret, _, err := a.Auth.CreateToken(context.Background(), "center-"+strings.NewReplacer(":", "", "/", "", ".", "").Replace(url), auth.Observer, 0)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(station + "-watcher-" + strings.NewReplacer(":", "", "/", "", ".", "").Replace(url)).
		SetUsername("center").SetPassword(secret).SetHTTPHeaders(http.Header{"Authorization": {"Bearer " + secret}}))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to %s: %v", url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	tok := c.Subscribe(relay.Topics{Station: station}.Prefix()+"/vehicles/+/state", 0, func(_ mqtt.Client, m mqtt.Message) {
		var s relay.StatePayload
		if json.Unmarshal(m.Payload(), &s) == nil && s.Schema == relay.SchemaVersion {
			mu.Lock()
			seen[s.ID] = true
			mu.Unlock()
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return func() map[string]bool {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]bool{}
		for k := range seen {
			out[k] = true
		}
		return out
	}
}

func relayWaitSeen(t *testing.T, seen func() map[string]bool, n int, where string) {
	t.Helper()
	testenv.Eventually(t, 60*time.Second, fmt.Sprintf("%s: state of %d vehicles", where, n), func() bool { return len(seen()) >= n })
}

// `burgut serve --mqtt tcp://…` publishes the simulated fleet's state to
// a real Mosquitto.
func TestAppPublishesFleetToExternalBroker(t *testing.T) {
	url := testenv.Service(t, "BURGUT_TEST_MQTT_URL")
	a := runRelayApp(t, 2, func(c *Config) { c.Relay.MQTT = url })
	relayWaitSeen(t, relayCollect(t, a, url), 2, "mosquitto")
}

// Without --mqtt the embedded broker serves the center over TCP and over
// MQTT-over-WebSocket at /mqtt on the HTTP port.
func TestAppEmbeddedBrokerOverTCPAndWebSocket(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	a := runRelayApp(t, 2, func(c *Config) { c.Relay.MQTTListen = fmt.Sprintf("127.0.0.1:%d", port) })
	relayWaitSeen(t, relayCollect(t, a, fmt.Sprintf("tcp://127.0.0.1:%d", port)), 2, "embedded broker over TCP")
	relayWaitSeen(t, relayCollect(t, a, "ws://"+a.HTTPAddr()+"/mqtt"), 2, "embedded broker over WebSocket /mqtt")
}

func TestAppRelayStatus(t *testing.T) {
	a := runRelayApp(t, 1, func(c *Config) {})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + a.HTTPAddr() + "/api/v1/relay")
		if err != nil {
			t.Fatal(err)
		}
		var st struct {
			Station string `json:"station"`
			Broker  struct {
				TCP string `json:"tcp"`
			} `json:"embedded_broker"`
			MQTT struct {
				Connected bool                 `json:"connected"`
				Published relay.PublisherStats `json:"published"`
			} `json:"mqtt"`
		}
		err = json.NewDecoder(resp.Body).Decode(&st)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if st.Station != a.Config.Station || st.Broker.TCP == "" {
			t.Fatalf("status = %+v", st)
		}
		if st.MQTT.Connected && st.MQTT.Published.States > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("publisher never connected or published: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
