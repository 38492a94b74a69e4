package app

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"

	"github.com/burgut-uav/burgut/httpapi"
	"github.com/burgut-uav/burgut/metrics"
	"github.com/burgut-uav/burgut/relay"
	"github.com/burgut-uav/burgut/web"
)

// startRelay wires the monitoring-center relay (issue 6): the MQTT
// publisher (to --mqtt, or to the embedded broker on --mqtt-listen), the
// /api/v1/stream WebSocket, MQTT over WebSocket at /mqtt, and the live map
// at /.
func (a *App) startRelay(ctx context.Context) error {
	cfg := a.Config.Relay
	log := a.Log.With("part", "relay")

	url, user, pass := cfg.MQTT, cfg.MQTTUser, cfg.MQTTPassword
	status := map[string]any{"station": a.Config.Station, "schema": relay.SchemaVersion,
		"topics": relay.Topics{Station: a.Config.Station}.Prefix() + "/…", "stream": "/api/v1/stream"}
	var embedded *relay.Broker
	if url == "" && cfg.MQTTListen != "" {
		b, err := relay.NewBroker(relay.BrokerConfig{Listen: cfg.MQTTListen, WSListen: cfg.MQTTWSListen, Auth: mqttAuth{a.Auth}, Log: log})
		if err != nil {
			return err
		}
		// Registered first, so it closes after the publisher has said "offline".
		a.OnStop("mqtt broker", func() { _ = b.Close() })
		a.Mux.Handle(httpapi.Route{Method: http.MethodGet, Pattern: "/mqtt", Access: httpapi.Observer, Handler: httpapi.RequireWebSocket(b.WebSocketHandler())})
		url = b.URL()
		user, pass = b.Credentials()
		embedded = b
		a.mqttAddr = b.Addr()
		a.addFamily(counter("burgut_mqtt_clients_refused_total", "clients the embedded MQTT broker refused at connect (no or bad credentials, reserved client ID, a will message)"), func(emit metrics.Emit) {
			emit(float64(b.Refused()))
		})
		status["embedded_broker"] = map[string]any{"tcp": b.Addr(), "websocket_path": "/mqtt", "websocket": cfg.MQTTWSListen}
		log.Info("embedded mqtt broker listening", "tcp", b.Addr(), "ws", cfg.MQTTWSListen, "http_ws_path", "/mqtt")
	}
	var pub *relay.Publisher
	if url != "" {
		tlsCfg, err := a.Config.Access.mqttTLS()
		if err != nil {
			return err
		}
		p, err := relay.NewPublisher(a.Fleet, relay.PublisherConfig{
			BrokerURL: url, Embedded: embedded, Station: a.Config.Station, ClientID: cfg.MQTTClientID,
			Username: user, Password: pass, TLS: tlsCfg,
			StoreDir:  filepath.Join(a.Config.DataDir, "mqtt-store"),
			StateRate: cfg.StateRate, StaleAfter: cfg.StaleAfter, Log: log,
		})
		if err != nil {
			return fmt.Errorf("mqtt: %w", err)
		}
		a.Go(ctx, "mqtt publisher", p.Run)
		a.publishAudit(ctx, p)
		pub = p
		a.opPublisher = p
		a.observeMQTT(p)
	} else {
		log.Warn("no MQTT broker: --mqtt and --mqtt-listen are both empty, MQTT relay off")
	}

	hub := relay.NewHub(a.Fleet, relay.HubConfig{
		Station: a.Config.Station, StaleAfter: cfg.StaleAfter,
		DefaultRateHz: cfg.WSRate, MaxRateHz: cfg.WSMaxRate, MaxQueuedEvents: cfg.WSMaxQueue,
		MaxClients: cfg.WSMaxClients, AllowedOrigins: cfg.AllowedOrigins, Log: log,
	})
	a.Go(ctx, "stream hub", hub.Run)
	a.observeHub(hub)
	a.Mux.Handle(httpapi.Route{Method: http.MethodGet, Pattern: "/api/v1/stream", Access: httpapi.Observer, Handler: httpapi.RequireWebSocket(hub)})
	// The map's files are public (they hold no data); what it shows comes
	// through the stream and the API, which carry their own access levels.
	a.Mux.Handle(httpapi.Route{Method: http.MethodGet, Pattern: "/", Access: httpapi.Anonymous, Handler: web.NewHandler(web.Options{MapTiles: a.Config.MapTiles, MapAttribution: a.Config.MapAttribution})})
	// What the center needs to connect, and whether the feeds are healthy.
	a.Mux.HandleFunc(http.MethodGet, "/api/v1/relay", httpapi.Observer, func(w http.ResponseWriter, r *http.Request) {
		out := maps.Clone(status)
		if pub != nil {
			out["mqtt"] = map[string]any{"connected": pub.Connected(), "external": cfg.MQTT != "", "published": pub.Stats()}
		}
		out["stream_clients"] = hub.Stats()
		writeJSON(w, out)
	})
	if !web.Built() {
		log.Warn("web map not built into this binary: run 'make web' (the API and stream work without it)")
	}
	return nil
}
