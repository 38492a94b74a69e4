package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/burgut-uav/burgut/internal/testenv"
	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// uniqueStation keeps retained messages of one test away from the others
// on a shared broker.
func uniqueStation(t testing.TB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "test-" + hex.EncodeToString(b[:])
}

// privateMosquitto is a real Mosquitto the test owns, so it can kill and
// restart it. Persistence is on so a subscriber's persistent session and
// its queued QoS 1 messages survive the restart, as on a production broker.
type privateMosquitto struct {
	t    testing.TB
	bin  string
	conf string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

func startPrivateMosquitto(t testing.TB) *privateMosquitto {
	t.Helper()
	bin := testenv.Service(t, "BURGUT_TEST_MOSQUITTO")
	dir := t.TempDir()
	m := &privateMosquitto{t: t, bin: bin, port: testenv.FreeTCPPort(t), conf: filepath.Join(dir, "mosquitto.conf")}
	user := "mosquitto"
	if u := os.Getenv("USER"); u != "" {
		user = u
	}
	if os.Getuid() == 0 {
		user = "root"
	}
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nuser %s\npersistence true\npersistence_location %s/\nautosave_interval 1\nmax_queued_messages 1000000\nmax_inflight_messages 1000\nlog_dest file %s\n",
		m.port, user, dir, filepath.Join(dir, "mosquitto.log"))
	if err := os.WriteFile(m.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	m.start()
	t.Cleanup(m.stop)
	return m
}

func (m *privateMosquitto) url() string { return fmt.Sprintf("tcp://127.0.0.1:%d", m.port) }

func (m *privateMosquitto) start() {
	m.t.Helper()
	m.cmd = exec.Command(m.bin, "-c", m.conf)
	m.cmd.Stdout, m.cmd.Stderr = os.Stderr, os.Stderr
	if err := m.cmd.Start(); err != nil {
		m.t.Fatalf("start mosquitto: %v", err)
	}
	done := make(chan struct{})
	m.done = done
	cmd := m.cmd
	go func() { _ = cmd.Wait(); close(done) }()
	testenv.Eventually(m.t, 10*time.Second, "mosquitto to accept connections", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", m.port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// stop ends the broker with SIGTERM (it saves its persistence file) and
// waits for the process to exit.
func (m *privateMosquitto) stop() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	m.cmd = nil
}

// recorder is a real MQTT subscriber that keeps every message it gets.
type recorder struct {
	mu   sync.Mutex
	msgs []mqtt.Message
}

func (r *recorder) handle(_ mqtt.Client, m mqtt.Message) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
}

func (r *recorder) matching(f func(mqtt.Message) bool) []mqtt.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []mqtt.Message
	for _, m := range r.msgs {
		if f(m) {
			out = append(out, m)
		}
	}
	return out
}

func withSuffix(s string) func(mqtt.Message) bool {
	return func(m mqtt.Message) bool { return strings.HasSuffix(m.Topic(), s) }
}

// testAuth is the embedded broker's account list in these tests: the
// station's real BrokerAuth (auth.Store) is tested in app/.
type testAuth map[string]struct {
	password string
	admin    bool
}

func (a testAuth) AuthenticateMQTT(_ context.Context, user, password string) (string, bool, error) {
	if u, ok := a[user]; ok && u.password == password {
		return user, u.admin, nil
	}
	return "", false, errors.New("invalid credentials")
}

// Credentials of the test brokers' accounts; subscribe uses watcher's
// (an external Mosquitto allowing anonymous clients ignores them).
const (
	watcherUser, watcherPassword = "watcher", "watcher-password"
	adminUser, adminPassword     = "chief", "chief-password"
)

var brokerAuth = testAuth{
	watcherUser: {password: watcherPassword},
	adminUser:   {password: adminPassword, admin: true},
}

// subscribe connects a paho subscriber to filter. clientID "" means a
// clean, random session.
func subscribe(t testing.TB, url, filter string, qos byte, clientID string, r *recorder) mqtt.Client {
	t.Helper()
	opts := mqtt.NewClientOptions().AddBroker(url).SetAutoReconnect(true).SetConnectRetry(false).
		SetMaxReconnectInterval(500 * time.Millisecond).SetOrderMatters(false).
		SetUsername(watcherUser).SetPassword(watcherPassword)
	if clientID != "" {
		opts.SetClientID(clientID).SetCleanSession(false).SetResumeSubs(true)
	} else {
		opts.SetClientID(uniqueStation(t))
	}
	opts.SetDefaultPublishHandler(r.handle)
	c := mqtt.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect subscriber to %s: %v", url, tok.Error())
	}
	if tok := c.Subscribe(filter, qos, r.handle); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe %s: %v", filter, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// runPublisher runs p until the test ends.
func runPublisher(t testing.TB, p *Publisher) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("publisher: %v", err)
		}
	})
}
