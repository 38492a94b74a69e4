package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/burgut-uav/burgut/internal/testenv"
)

// testCA issues certificates for a test's TLS endpoints.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	dir  string
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "burgut test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{cert: cert, key: key, dir: t.TempDir()}
	ca.write(t, "ca.pem", "CERTIFICATE", der)
	return ca
}

func (ca *testCA) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(ca.dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// issue writes a certificate and key signed by the CA and returns their files.
func (ca *testCA) issue(t *testing.T, name string, serial int64, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return ca.write(t, name+".pem", "CERTIFICATE", der), ca.write(t, name+"-key.pem", "EC PRIVATE KEY", kder)
}

// An external broker that requires TLS with client certificates (a real
// Mosquitto): the station connects with --mqtt-ca-file and
// --mqtt-cert-file/--mqtt-key-file; a client without a certificate is
// refused, so the station's connection proves the options are used.
func TestExternalBrokerMutualTLS(t *testing.T) {
	bin := testenv.Service(t, "BURGUT_TEST_MOSQUITTO")
	ca := newTestCA(t)
	serverCert, serverKey := ca.issue(t, "broker", 2, x509.ExtKeyUsageServerAuth)
	clientCert, clientKey := ca.issue(t, "station", 3, x509.ExtKeyUsageClientAuth)
	port := testenv.FreeTCPPort(t)
	user := "root"
	if os.Getuid() != 0 {
		user = os.Getenv("USER")
	}
	conf := filepath.Join(ca.dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nuser %s\npersistence false\n"+
		"cafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\nlog_dest file %s\n",
		port, user, filepath.Join(ca.dir, "ca.pem"), serverCert, serverKey, filepath.Join(ca.dir, "mosquitto.log"))), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", conf)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() })
	url := fmt.Sprintf("ssl://127.0.0.1:%d", port)
	testenv.Eventually(t, 10*time.Second, "mosquitto listening", func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	noCert := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("no-cert").
		SetTLSConfig(&tls.Config{RootCAs: pool}).SetConnectTimeout(5 * time.Second))
	if tok := noCert.Connect(); tok.WaitTimeout(10*time.Second) && tok.Error() == nil {
		noCert.Disconnect(100)
		t.Fatal("the broker accepted a client without a certificate: the test proves nothing")
	}

	a, _ := runApp(t, func(c *Config) {
		c.Relay.MQTT = url
		c.Access.MQTTCAFile = filepath.Join(ca.dir, "ca.pem")
		c.Access.MQTTCertFile, c.Access.MQTTKeyFile = clientCert, clientKey
	})
	testenv.Eventually(t, 20*time.Second, "the station connected to the TLS broker", func() bool {
		var st struct {
			MQTT struct {
				Connected bool `json:"connected"`
			} `json:"mqtt"`
		}
		getJSON(t, "http://"+a.HTTPAddr()+"/api/v1/relay", &st)
		return st.MQTT.Connected
	})
}
