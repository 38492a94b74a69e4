package relay

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// mosquittoClient runs Debian's mosquitto_sub or mosquitto_pub against the
// embedded broker, as the monitoring center would.
func mosquittoClient(t *testing.T, ctx context.Context, tool string, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath(tool)
	if err != nil {
		if os.Getenv("BURGUT_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("%s not installed although make test installs it (scripts/service-mosquitto.sh): %v", tool, err)
		}
		t.Skipf("%s not installed (Debian mosquitto-clients; scripts/services.sh installs it)", tool)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return out.String(), err
}

func hostPort(b *Broker) []string {
	host, port, _ := strings.Cut(b.Addr(), ":")
	return []string{"-h", host, "-p", port}
}

// The embedded broker refuses anonymous clients, lets authenticated ones
// watch burgut/v1/ only, never lets them publish, and keeps the audit
// topic for admins.
func TestEmbeddedBrokerAccessControl(t *testing.T) {
	b, err := NewBroker(BrokerConfig{Listen: "127.0.0.1:0", Auth: brokerAuth, Log: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	station := uniqueStation(t)
	prefix := "burgut/v1/" + station
	user, pass := b.Credentials()
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("burgut-" + station).SetUsername(user).SetPassword(pass))
	if tok := pub.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("station publisher: %v", tok.Error())
	}
	defer pub.Disconnect(100)
	for topic, payload := range map[string]string{prefix + "/vehicles/v1/state": `{"id":"v1"}`, prefix + "/audit": `{"seq":1}`} {
		if tok := pub.Publish(topic, 1, true, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("station publish %s: %v", topic, tok.Error())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	sub := func(extra ...string) (string, error) {
		return mosquittoClient(t, ctx, "mosquitto_sub", append(append(hostPort(b), "-v", "-W", "3"), extra...)...)
	}

	t.Run("anonymous refused", func(t *testing.T) {
		out, err := sub("-t", prefix+"/#", "-C", "1")
		if err == nil || !strings.Contains(strings.ToLower(out), "not authori") {
			t.Fatalf("mosquitto_sub without credentials: err %v, output %q", err, out)
		}
	})
	t.Run("wrong password refused", func(t *testing.T) {
		out, err := sub("-u", watcherUser, "-P", "guess", "-t", prefix+"/#", "-C", "1")
		if err == nil || !strings.Contains(strings.ToLower(out), "not authori") {
			t.Fatalf("err %v, output %q", err, out)
		}
	})
	t.Run("observer receives state but not the audit", func(t *testing.T) {
		out, err := sub("-u", watcherUser, "-P", watcherPassword, "-t", prefix+"/#", "-C", "2")
		if !strings.Contains(out, prefix+"/vehicles/v1/state") {
			t.Fatalf("observer did not get the retained state: %v %q", err, out)
		}
		if strings.Contains(out, "/audit") {
			t.Fatalf("observer received the audit topic: %q", out)
		}
	})
	t.Run("admin receives the audit", func(t *testing.T) {
		out, err := sub("-u", adminUser, "-P", adminPassword, "-t", prefix+"/audit", "-C", "1")
		if err != nil || !strings.Contains(out, `{"seq":1}`) {
			t.Fatalf("admin: %v %q", err, out)
		}
	})
	t.Run("subscriptions outside burgut/v1 refused", func(t *testing.T) {
		out, err := sub("-V", "5", "-u", watcherUser, "-P", watcherPassword, "-t", "#", "-C", "1")
		// mosquitto_sub reports the refused SUBACK and exits.
		if !strings.Contains(out, "denied") {
			t.Fatalf("subscribe #: %v %q", err, out)
		}
	})
	t.Run("station client ID reserved", func(t *testing.T) {
		out, err := sub("-i", "burgut-"+station, "-u", watcherUser, "-P", watcherPassword, "-t", prefix+"/#", "-C", "1")
		if err == nil || !strings.Contains(strings.ToLower(out), "not authori") {
			t.Fatalf("err %v, output %q", err, out)
		}
	})
	t.Run("clients never publish", func(t *testing.T) {
		var r recorder
		subscribe(t, b.URL(), prefix+"/#", 1, "", &r)
		watch := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("chief-watch").SetUsername(adminUser).SetPassword(adminPassword).SetDefaultPublishHandler(r.handle))
		if tok := watch.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		defer watch.Disconnect(100)
		if tok := watch.Subscribe("burgut/v1/#", 1, r.handle); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		for _, c := range []struct{ user, pw, topic string }{
			{watcherUser, watcherPassword, prefix + "/vehicles/fake/state"},
			{adminUser, adminPassword, prefix + "/vehicles/fake/state"},
			{watcherUser, watcherPassword, "center/notes"},
		} {
			// The broker drops the connection of a client that publishes.
			if out, err := mosquittoClient(t, ctx, "mosquitto_pub", append(hostPort(b), "-u", c.user, "-P", c.pw, "-q", "1", "-t", c.topic, "-m", `{"id":"fake"}`)...); err == nil {
				t.Errorf("mosquitto_pub %s as %s succeeded: %s", c.topic, c.user, out)
			}
		}
		// A station publish after the intruders' is the marker: once it
		// arrived, theirs would have too.
		pub.Publish(prefix+"/marker", 1, false, "m").WaitTimeout(5 * time.Second)
		testenv.Eventually(t, 10*time.Second, "the station's marker", func() bool { return len(r.matching(withSuffix("/marker"))) == 2 })
		if got := r.matching(func(m mqtt.Message) bool { return strings.Contains(string(m.Payload()), "fake") }); len(got) != 0 {
			t.Fatalf("a client's publish was delivered on %s", got[0].Topic())
		}
	})
	t.Run("clients never publish through a will", func(t *testing.T) {
		var r recorder
		subscribe(t, b.URL(), prefix+"/#", 1, "", &r)
		proxy := newTCPProxy(t, b.Addr())
		refused := b.Refused()
		fake := []byte(`{"status":"offline","fake":true}`)
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://"+proxy.ln.Addr().String()).SetClientID("chief-will").
			SetUsername(adminUser).SetPassword(adminPassword).SetProtocolVersion(4).SetAutoReconnect(false).SetBinaryWill(prefix+"/status", fake, 1, true))
		tok := c.Connect()
		if !tok.WaitTimeout(10 * time.Second) {
			t.Fatal("connect with a will: no answer")
		}
		if tok.Error() == nil {
			t.Errorf("a client with a will on %s/status was let in", prefix)
			proxy.cut() // its connection dies without a DISCONNECT: the broker sends the will
		}
		// As above, the station's marker: once it arrived, the will would have too.
		pub.Publish(prefix+"/marker", 1, false, "m").WaitTimeout(5 * time.Second)
		testenv.Eventually(t, 10*time.Second, "the station's marker", func() bool { return len(r.matching(withSuffix("/marker"))) == 1 })
		if got := r.matching(func(m mqtt.Message) bool { return bytes.Contains(m.Payload(), []byte("fake")) }); len(got) != 0 {
			t.Fatalf("a client's will was published on %s", got[0].Topic())
		}
		if got := b.Refused(); got != refused+1 {
			t.Errorf("refused connects counted %d more, want 1 (the will)", got-refused)
		}
	})
	if b.Refused() < 3 {
		t.Fatalf("refused connects counted %d, want at least 3", b.Refused())
	}
}

// The broker closes while clients keep connecting over TCP and /mqtt: it
// closes (mochi's Close waited for connections that were still counting
// themselves in, a data race -race reported) and refuses every connection
// after.
func TestBrokerCloseWhileClientsConnect(t *testing.T) {
	for range 10 {
		b, err := NewBroker(BrokerConfig{Listen: "127.0.0.1:0", Auth: brokerAuth, Log: quietLog()})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(b.WebSocketHandler())
		wsURL := "ws" + strings.TrimPrefix(srv.URL, "http")
		// One client stays connected until the broker closes it.
		c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("stays").
			SetUsername(watcherUser).SetPassword(watcherPassword).SetAutoReconnect(false))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect: %v", tok.Error())
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(2)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if conn, err := net.Dial("tcp", b.Addr()); err == nil {
						conn.Close()
					}
				}
			}()
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil); err == nil {
						ws.Close()
					}
				}
			}()
		}
		time.Sleep(20 * time.Millisecond) // connections are coming in
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		if conn, err := net.Dial("tcp", b.Addr()); err == nil {
			conn.Close()
			t.Fatal("the closed broker's TCP port accepts connections")
		}
		_, resp, err := websocket.DefaultDialer.Dial(wsURL, nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/mqtt after close: %v (response %v), want 503", err, resp)
		}
		c.Disconnect(10)
		srv.Close()
	}
}
