package relay

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
)

// inlineClient is the publisher's client for the embedded broker: a paho
// mqtt.Client whose Publish hands the message to the broker in-process
// (mochi's inline client, Server.Publish), so the Publisher's logic is
// the same for both brokers. The broker delivers it to subscribers and
// keeps it if retained, as for a message from a connected client; it is
// "connected" from Connect until Disconnect.
type inlineClient struct {
	srv       *mochi.Server
	onConnect func(mqtt.Client)
	open      atomic.Bool
}

var errInlineUnsupported = errors.New("mqtt: not supported by the in-process publisher")

func (c *inlineClient) IsConnected() bool      { return c.open.Load() }
func (c *inlineClient) IsConnectionOpen() bool { return c.open.Load() }

func (c *inlineClient) Connect() mqtt.Token {
	c.open.Store(true)
	if c.onConnect != nil {
		c.onConnect(c)
	}
	return doneToken{}
}

func (c *inlineClient) Disconnect(uint) { c.open.Store(false) }

func (c *inlineClient) Publish(topic string, qos byte, retained bool, payload any) mqtt.Token {
	if !c.open.Load() {
		return doneToken{err: errors.New("mqtt: in-process publisher not connected")}
	}
	var b []byte
	switch p := payload.(type) {
	case []byte:
		b = p
	case string:
		b = []byte(p)
	default:
		return doneToken{err: fmt.Errorf("mqtt: payload of type %T", payload)}
	}
	if err := c.srv.Publish(topic, b, retained, qos); err != nil {
		return doneToken{err: fmt.Errorf("mqtt: publish %s in-process: %w", topic, err)}
	}
	return doneToken{}
}

func (c *inlineClient) Subscribe(string, byte, mqtt.MessageHandler) mqtt.Token {
	return doneToken{err: errInlineUnsupported}
}

func (c *inlineClient) SubscribeMultiple(map[string]byte, mqtt.MessageHandler) mqtt.Token {
	return doneToken{err: errInlineUnsupported}
}

func (c *inlineClient) Unsubscribe(...string) mqtt.Token { return doneToken{err: errInlineUnsupported} }

func (c *inlineClient) AddRoute(string, mqtt.MessageHandler) {}

func (c *inlineClient) OptionsReader() mqtt.ClientOptionsReader {
	return mqtt.NewOptionsReader(mqtt.NewClientOptions())
}

// doneToken is a completed operation.
type doneToken struct{ err error }

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (doneToken) Wait() bool                     { return true }
func (doneToken) WaitTimeout(time.Duration) bool { return true }
func (doneToken) Done() <-chan struct{}          { return closedChan }
func (t doneToken) Error() error                 { return t.err }
