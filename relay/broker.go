package relay

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// BrokerConfig configures the embedded MQTT broker.
type BrokerConfig struct {
	// Listen is the TCP listener's address, e.g. 127.0.0.1:1883 (port 0
	// picks a free port; see Broker.Addr).
	Listen string
	// WSListen, when set, adds an MQTT-over-WebSocket listener on its own
	// port. Independently, Broker.WebSocketHandler serves MQTT over
	// WebSocket on Burgut's HTTP port.
	WSListen string
	// ReadOnlyPrefix is the topic tree only the relay's own publisher may
	// write (default "burgut/"): the monitoring center watches, it cannot
	// inject fake vehicle data.
	ReadOnlyPrefix string
	Log            *slog.Logger
}

// Broker is the in-process MQTT broker Burgut runs when no external broker
// is configured, so the center can subscribe without another server.
type Broker struct {
	srv      *mochi.Server
	tcp      *listeners.TCP
	ws       *listeners.Websocket
	httpWS   *httpWSListener
	user     string
	password string
	closeMu  sync.Mutex
	closed   bool
}

// NewBroker starts the broker's listeners. Close stops it.
func NewBroker(cfg BrokerConfig) (*Broker, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.ReadOnlyPrefix == "" {
		cfg.ReadOnlyPrefix = "burgut/"
	}
	if cfg.Listen == "" {
		return nil, errors.New("embedded mqtt broker: listen address is empty")
	}
	var secret [16]byte
	_, _ = rand.Read(secret[:])
	b := &Broker{user: "burgut-relay", password: hex.EncodeToString(secret[:])}
	b.srv = mochi.New(&mochi.Options{
		InlineClient: true,
		// mochi logs every client at info and whole packets at warn: keep errors only.
		Logger: slog.New(minLevel{cfg.Log.Handler(), slog.LevelError}).With("part", "mqtt broker"),
	})
	if err := b.srv.AddHook(&aclHook{user: b.user, password: []byte(b.password), prefix: cfg.ReadOnlyPrefix}, nil); err != nil {
		return nil, fmt.Errorf("embedded mqtt broker: auth hook: %w", err)
	}
	b.tcp = listeners.NewTCP(listeners.Config{ID: "tcp", Address: cfg.Listen})
	if err := b.srv.AddListener(b.tcp); err != nil {
		return nil, fmt.Errorf("embedded mqtt broker: listen on %s: %w", cfg.Listen, err)
	}
	if cfg.WSListen != "" {
		b.ws = listeners.NewWebsocket(listeners.Config{ID: "ws", Address: cfg.WSListen})
		if err := b.srv.AddListener(b.ws); err != nil {
			b.srv.Close()
			return nil, fmt.Errorf("embedded mqtt broker: websocket listen on %s: %w", cfg.WSListen, err)
		}
	}
	b.httpWS = &httpWSListener{upgrader: websocket.Upgrader{Subprotocols: []string{"mqtt"}}, ready: make(chan struct{})}
	if err := b.srv.AddListener(b.httpWS); err != nil {
		b.srv.Close()
		return nil, fmt.Errorf("embedded mqtt broker: http websocket listener: %w", err)
	}
	if err := b.srv.Serve(); err != nil { // non-blocking: starts a goroutine per listener
		b.srv.Close()
		return nil, fmt.Errorf("embedded mqtt broker: %w", err)
	}
	return b, nil
}

// Addr is the TCP listener's address (host:port).
func (b *Broker) Addr() string { return b.tcp.Address() }

// URL is the TCP listener as a paho broker URL.
func (b *Broker) URL() string { return "tcp://" + b.Addr() }

// Credentials are the username and password that may publish under the
// read-only prefix; only Burgut's own publisher gets them.
func (b *Broker) Credentials() (user, password string) { return b.user, b.password }

// WebSocketHandler serves MQTT over WebSocket (subprotocol "mqtt") on
// Burgut's own HTTP server, e.g. at /mqtt, so browsers and the center can
// subscribe without another port. Origins are not checked: the broker is
// read-only for such clients.
func (b *Broker) WebSocketHandler() http.Handler { return b.httpWS }

// Server exposes the mochi server (for inline subscriptions in tests and
// benchmarks).
func (b *Broker) Server() *mochi.Server { return b.srv }

// Close stops every listener and disconnects every client.
func (b *Broker) Close() error {
	b.closeMu.Lock()
	defer b.closeMu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	return b.srv.Close()
}

// aclHook lets anyone connect and subscribe, but only the relay's publisher
// (authenticated with a per-process secret) write below prefix.
type aclHook struct {
	mochi.HookBase
	user     string
	password []byte
	prefix   string
}

func (h *aclHook) ID() string { return "burgut-read-only" }

func (h *aclHook) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

func (h *aclHook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	if string(pk.Connect.Username) == h.user {
		return bytes.Equal(pk.Connect.Password, h.password)
	}
	return true
}

func (h *aclHook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	if !write || !strings.HasPrefix(topic, h.prefix) {
		return true
	}
	return string(cl.Properties.Username) == h.user
}

// httpWSListener is a mochi listener fed by an http.Handler instead of its
// own port.
type httpWSListener struct {
	upgrader  websocket.Upgrader
	mu        sync.Mutex
	establish listeners.EstablishFn
	ready     chan struct{}
	readyOnce sync.Once
}

func (l *httpWSListener) Init(*slog.Logger) error { return nil }
func (l *httpWSListener) ID() string              { return "http-ws" }
func (l *httpWSListener) Address() string         { return "(burgut http)/mqtt" }
func (l *httpWSListener) Protocol() string        { return "ws" }

func (l *httpWSListener) Serve(establish listeners.EstablishFn) {
	l.mu.Lock()
	l.establish = establish
	l.mu.Unlock()
	l.readyOnce.Do(func() { close(l.ready) })
}

func (l *httpWSListener) Close(closeClients listeners.CloseFn) { closeClients(l.ID()) }

func (l *httpWSListener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	<-l.ready
	l.mu.Lock()
	establish := l.establish
	l.mu.Unlock()
	c, err := l.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade already answered with an HTTP error
	}
	defer c.Close()
	_ = establish(l.ID(), &wsConn{Conn: c.UnderlyingConn(), c: c})
}

// wsConn adapts a WebSocket to the byte stream mochi reads MQTT from.
type wsConn struct {
	net.Conn
	c *websocket.Conn
	r io.Reader
}

func (ws *wsConn) Read(p []byte) (int, error) {
	for {
		if ws.r == nil {
			op, r, err := ws.c.NextReader()
			if err != nil {
				return 0, err
			}
			if op != websocket.BinaryMessage {
				return 0, errors.New("mqtt over websocket: text frame received, want binary")
			}
			ws.r = r
		}
		n, err := ws.r.Read(p)
		if errors.Is(err, io.EOF) {
			ws.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (ws *wsConn) Write(p []byte) (int, error) {
	if err := ws.c.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// minLevel drops records below its level.
type minLevel struct {
	slog.Handler
	level slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.level && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(a []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(a), h.level}
}
func (h minLevel) WithGroup(n string) slog.Handler { return minLevel{h.Handler.WithGroup(n), h.level} }
