package relay

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	// Auth checks every other client's credentials. Nil refuses every
	// client but the station's own publisher: there are no anonymous
	// clients.
	Auth BrokerAuth
	Log  *slog.Logger
}

// BrokerAuth checks the credentials of a client of the embedded broker:
// an account's name and password, or an API token as the password (any
// username). Every valid role may watch; admin also reads the audit topic.
type BrokerAuth interface {
	AuthenticateMQTT(ctx context.Context, username, password string) (actor string, admin bool, err error)
}

// Topic rules of the embedded broker for clients other than the station.
const (
	// SubscribePrefix is the only tree clients may subscribe to.
	SubscribePrefix = "burgut/v1/"
	// reservedClientIDPrefix keeps clients from taking over the station
	// publisher's persistent session ("burgut-<station>").
	reservedClientIDPrefix = "burgut-"
)

// Broker is the in-process MQTT broker Burgut runs when no external broker
// is configured, so the center can subscribe without another server.
type Broker struct {
	srv      *mochi.Server
	tcp      *listeners.TCP
	ws       *listeners.Websocket
	httpWS   *httpWSListener
	user     string
	password string
	acl      *aclHook
	closeMu  sync.Mutex
	closed   bool
}

// NewBroker starts the broker's listeners. Close stops it.
func NewBroker(cfg BrokerConfig) (*Broker, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
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
	b.acl = &aclHook{user: b.user, password: []byte(b.password), auth: cfg.Auth, log: cfg.Log}
	if err := b.srv.AddHook(b.acl, nil); err != nil {
		return nil, fmt.Errorf("embedded mqtt broker: auth hook: %w", err)
	}
	b.tcp = listeners.NewTCP(listeners.Config{ID: "tcp", Address: cfg.Listen})
	if err := b.srv.AddListener(closeSafely(b.srv, b.tcp)); err != nil {
		return nil, fmt.Errorf("embedded mqtt broker: listen on %s: %w", cfg.Listen, err)
	}
	if cfg.WSListen != "" {
		b.ws = listeners.NewWebsocket(listeners.Config{ID: "ws", Address: cfg.WSListen})
		if err := b.srv.AddListener(closeSafely(b.srv, b.ws)); err != nil {
			b.srv.Close()
			return nil, fmt.Errorf("embedded mqtt broker: websocket listen on %s: %w", cfg.WSListen, err)
		}
	}
	b.httpWS = &httpWSListener{upgrader: websocket.Upgrader{Subprotocols: []string{"mqtt"}}, ready: make(chan struct{})}
	if err := b.srv.AddListener(closeSafely(b.srv, b.httpWS)); err != nil {
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
// station's topics; only Burgut's own publisher gets them.
func (b *Broker) Credentials() (user, password string) { return b.user, b.password }

// WebSocketHandler serves MQTT over WebSocket (subprotocol "mqtt") on
// Burgut's own HTTP server, e.g. at /mqtt, so browsers and the center can
// subscribe without another port. Origins are not checked: clients
// authenticate in their MQTT CONNECT and may only read.
func (b *Broker) WebSocketHandler() http.Handler { return b.httpWS }

// Refused counts clients refused at connect (bad or no credentials).
func (b *Broker) Refused() uint64 { return b.acl.refused.Load() }

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

// safeCloseListener wraps each of the broker's listeners for two faults of
// mochi v2.7.9 when it closes:
//
//   - Its closeListenerClients calls Clients.GetByListener, which takes the
//     clients' read lock and then takes it again inside (Clients.Len).
//     When a client's teardown (Clients.Delete) asks for the write lock
//     in between, the second read lock waits behind it and Server.Close
//     never returns — a deadlock seen in the relay tests when a refused
//     client was cleaned up as the broker closed. GetAll takes the read
//     lock once.
//   - Each connection's goroutine counts itself in Listeners.ClientsWg
//     (Add, in attachClient) after the listener has handed it over, while
//     Server.Close waits on that WaitGroup once the listeners are closed:
//     a connection accepted (or a /mqtt request upgraded) as the broker
//     closed counted itself during or after that Wait, a data race (the
//     race detector reports it in mochi's EstablishConnection and Close;
//     TestBrokerCloseWhileClientsConnect). So the listener hands no
//     connection over once closed, closes those it handed over that mochi
//     has not yet listed as clients, and returns from Close only when
//     every one has ended: mochi's Wait then finds nothing to wait for.
type safeCloseListener struct {
	listeners.Listener
	srv    *mochi.Server
	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{} // handed over to mochi, not yet ended
	active sync.WaitGroup        // the same connections
}

// errListenerClosed refuses a connection that reached a closed listener.
var errListenerClosed = errors.New("embedded mqtt broker: listener closed")

func closeSafely(srv *mochi.Server, l listeners.Listener) listeners.Listener {
	return &safeCloseListener{Listener: l, srv: srv, conns: map[net.Conn]struct{}{}}
}

func (l *safeCloseListener) Serve(establish listeners.EstablishFn) {
	l.Listener.Serve(func(id string, c net.Conn) error {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			c.Close()
			return errListenerClosed
		}
		l.conns[c] = struct{}{}
		l.active.Add(1)
		l.mu.Unlock()
		defer func() {
			l.mu.Lock()
			delete(l.conns, c)
			l.mu.Unlock()
			l.active.Done()
		}()
		return establish(id, c)
	})
}

func (l *safeCloseListener) Close(listeners.CloseFn) {
	l.Listener.Close(func(id string) {
		for _, cl := range l.srv.Clients.GetAll() {
			if cl.Net.Listener == id && !cl.Closed() {
				_ = l.srv.DisconnectClient(cl, packets.ErrServerShuttingDown)
			}
		}
	})
	l.mu.Lock()
	l.closed = true
	for c := range l.conns {
		c.Close() // one mochi did not list yet; closing a listed one twice is harmless
	}
	l.mu.Unlock()
	l.active.Wait()
}

// aclHook authenticates clients and enforces the topic rules: only the
// relay's publisher (with a per-process secret) publishes; other clients
// authenticate through BrokerAuth, subscribe under SubscribePrefix only,
// and only admins receive the audit topic.
type aclHook struct {
	mochi.HookBase
	user     string
	password []byte
	auth     BrokerAuth
	log      *slog.Logger
	clients  sync.Map // *mochi.Client → clientInfo (a takeover is a new *Client)
	refused  atomic.Uint64
}

type clientInfo struct {
	actor string
	admin bool
}

func (h *aclHook) ID() string { return "burgut-acl" }

func (h *aclHook) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck || b == mochi.OnDisconnect
}

func (h *aclHook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	user := string(pk.Connect.Username)
	if user == h.user {
		return subtle.ConstantTimeCompare(pk.Connect.Password, h.password) == 1
	}
	refuse := func(reason string) bool {
		h.refused.Add(1)
		h.log.Warn("mqtt client refused", "client_id", cl.ID, "remote", cl.Net.Remote, "user", user, "reason", reason)
		return false
	}
	if h.auth == nil || len(pk.Connect.Password) == 0 {
		return refuse("no credentials")
	}
	if strings.HasPrefix(cl.ID, reservedClientIDPrefix) {
		return refuse("client ID prefix " + reservedClientIDPrefix + " is reserved for the station")
	}
	// mochi publishes a client's will without asking OnACLCheck: a
	// watcher's will on the station's topics (its status, say) would be
	// published under the station's name when the watcher's connection
	// dropped.
	if pk.Connect.WillFlag {
		return refuse("a will message (topic " + pk.Connect.WillTopic + "): only the station publishes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	actor, admin, err := h.auth.AuthenticateMQTT(ctx, user, string(pk.Connect.Password))
	if err != nil {
		return refuse(err.Error())
	}
	h.clients.Store(cl, clientInfo{actor: actor, admin: admin})
	return true
}

func (h *aclHook) OnDisconnect(cl *mochi.Client, err error, expire bool) { h.clients.Delete(cl) }

func (h *aclHook) info(cl *mochi.Client) clientInfo {
	v, _ := h.clients.Load(cl)
	ci, _ := v.(clientInfo)
	return ci
}

// OnACLCheck is called with write=true for publishes, and with write=false
// both for subscription filters and for each message delivered.
func (h *aclHook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	if string(cl.Properties.Username) == h.user {
		return true
	}
	if write {
		return false // the center watches; only the station publishes
	}
	if !strings.HasPrefix(topic, SubscribePrefix) {
		return false
	}
	if strings.HasSuffix(topic, "/audit") {
		return h.info(cl).admin
	}
	return true
}

// httpWSListener is a mochi listener fed by an http.Handler instead of its
// own port.
type httpWSListener struct {
	upgrader  websocket.Upgrader
	mu        sync.Mutex
	establish listeners.EstablishFn
	closed    bool
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

func (l *httpWSListener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	closeClients(l.ID())
}

func (l *httpWSListener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	<-l.ready
	l.mu.Lock()
	establish, closed := l.establish, l.closed
	l.mu.Unlock()
	if closed {
		http.Error(w, "the embedded mqtt broker has stopped", http.StatusServiceUnavailable)
		return
	}
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
