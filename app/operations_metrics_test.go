package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/burgut-uav/burgut/auth"
	"github.com/burgut-uav/burgut/internal/testenv"
	"github.com/burgut-uav/burgut/missions/operations"
	"github.com/burgut-uav/burgut/relay"
)

// An operation's per-slot coverage reaches InfluxDB as the "coverage"
// measurement tagged with the operation, its area and the slot, and the
// operation's view is published (retained) on MQTT.
func TestOperationCoverageReachesInfluxDBAndMQTT(t *testing.T) {
	if testing.Short() {
		t.Skip("flies 2 simulated drones")
	}
	base := testenv.Service(t, "BURGUT_TEST_INFLUX_URL")
	db := freshInfluxDB(t, base)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	a, areaID, ids := opsFleet(t, 2, func(c *Config) {
		c.Telemetry.InfluxURL = base
		c.Telemetry.InfluxBucket = db + "/autogen"
		c.Relay.MQTTListen = fmt.Sprintf("127.0.0.1:%d", port)
	})
	o := createOp(t, a, areaID, 1, ids, time.Minute, 10*time.Minute)
	waitOp(t, a, o.ID, time.Minute, func(o operations.OperationView) bool { return o.State == operations.StateFinished })

	// InfluxDB: the coverage points of slot 0, tagged.
	var rows [][]any
	testenv.Eventually(t, 30*time.Second, "coverage points in InfluxDB", func() bool {
		q := fmt.Sprintf(`SELECT "on_station_s","uncovered_s","handovers" FROM "coverage" WHERE "operation"='%s' AND "slot"='0' AND "event_area"='%s' AND "mission"='%s/slot-0'`, o.ID, areaID, o.ID)
		resp, err := http.Get(base + "/query?db=" + db + "&q=" + url.QueryEscape(q))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct {
			Results []struct {
				Series []struct{ Values [][]any }
			}
		}
		_ = json.NewDecoder(resp.Body).Decode(&r)
		rows = nil
		if len(r.Results) > 0 && len(r.Results[0].Series) > 0 {
			rows = r.Results[0].Series[0].Values
		}
		// The last point is the finished operation's: on station through
		// most of the 10-minute window.
		return len(rows) > 0 && rows[len(rows)-1][1].(float64) > 300
	})

	// MQTT: the retained view of the operation.
	secret, _, err := a.Auth.CreateToken(context.Background(), "center-ops", auth.Observer, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(fmt.Sprintf("tcp://127.0.0.1:%d", port)).SetClientID("ops-watcher").SetUsername("center").SetPassword(secret))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	var mu sync.Mutex
	var got operations.OperationView
	topic := relay.Topics{Station: a.Config.Station}.Operation(o.ID)
	if tok := c.Subscribe(topic, 1, func(_ mqtt.Client, m mqtt.Message) {
		mu.Lock()
		defer mu.Unlock()
		_ = json.Unmarshal(m.Payload(), &got)
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	testenv.Eventually(t, 20*time.Second, "the operation on "+topic, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return got.ID == o.ID && got.State == operations.StateFinished && len(got.Slots) == 1
	})
	if !strings.HasPrefix(topic, relay.Topics{Station: a.Config.Station}.Prefix()+"/operations/") {
		t.Fatalf("topic %s", topic)
	}
}
