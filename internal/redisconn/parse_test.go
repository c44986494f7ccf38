package redisconn

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/stretchr/testify/require"
)

func TestParseSingle(t *testing.T) {
	c, err := Parse("rediss://app:pw@cache.example:6380/3")
	require.NoError(t, err)
	require.Equal(t, Single, c.Kind)
	opt, ok := c.Asynq.(asynq.RedisClientOpt)
	require.True(t, ok, "%T", c.Asynq)
	require.Equal(t, "cache.example:6380", opt.Addr)
	require.Equal(t, "app", opt.Username, "the ACL user is kept")
	require.Equal(t, "pw", opt.Password)
	require.Equal(t, 3, opt.DB)
	require.NotNil(t, opt.TLSConfig)
	require.Equal(t, "cache.example", opt.TLSConfig.ServerName)
	require.Equal(t, c.single.Addr, opt.Addr)
}

// asynq's sentinel form keeps working and gains the primary's own
// credentials, a database number and TLS.
func TestParseSentinel(t *testing.T) {
	c, err := Parse("rediss-sentinel://:sentinel-pw@s1:26379,s2:26380,s3:26381/2?master=mymaster&username=app&password=primary-pw&dial_timeout=2s")
	require.NoError(t, err)
	require.Equal(t, Sentinel, c.Kind)
	opt, ok := c.Asynq.(asynq.RedisFailoverClientOpt)
	require.True(t, ok, "%T", c.Asynq)
	require.Equal(t, "mymaster", opt.MasterName)
	require.Equal(t, []string{"s1:26379", "s2:26380", "s3:26381"}, opt.SentinelAddrs)
	require.Equal(t, "sentinel-pw", opt.SentinelPassword)
	require.Equal(t, "app", opt.Username)
	require.Equal(t, "primary-pw", opt.Password)
	require.Equal(t, 2, opt.DB)
	require.NotNil(t, opt.TLSConfig)
	require.Equal(t, "2s", c.failover.DialTimeout.String(), "go-redis's query options apply")

	// The form as asynq documents it.
	c, err = Parse("redis-sentinel://:pw@localhost:5000,localhost:5001?master=mymaster")
	require.NoError(t, err)
	opt = c.Asynq.(asynq.RedisFailoverClientOpt)
	require.Equal(t, []string{"localhost:5000", "localhost:5001"}, opt.SentinelAddrs)
	require.Equal(t, "pw", opt.SentinelPassword)
	require.Empty(t, opt.Password)
	require.Nil(t, opt.TLSConfig)
}

func TestParseCluster(t *testing.T) {
	for _, raw := range []string{
		"redis-cluster://:pw@n1:7000?addr=n2:7001&addr=n3:7002",
		"redis://:pw@n1:7000?addr=n2:7001&addr=n3:7002",
		"redis-cluster://:pw@n1:7000/0?addr=n2:7001&addr=n3:7002",
	} {
		c, err := Parse(raw)
		require.NoError(t, err, raw)
		require.Equal(t, Cluster, c.Kind, raw)
		opt, ok := c.Asynq.(asynq.RedisClusterClientOpt)
		require.True(t, ok, "%T", c.Asynq)
		require.Equal(t, []string{"n1:7000", "n2:7001", "n3:7002"}, opt.Addrs, raw)
		require.Equal(t, "pw", opt.Password)
	}
	c, err := Parse("rediss-cluster://n1:7000")
	require.NoError(t, err)
	require.NotNil(t, c.Asynq.(asynq.RedisClusterClientOpt).TLSConfig)
}

// Bad URLs are refused with a reason that never quotes the password.
func TestParseRefusesBadURLs(t *testing.T) {
	cases := map[string]string{
		"http://:secret-1@host:1":                              "unsupported scheme",
		"redis-sentinel://:secret-1@s1:26379":                  "needs ?master=NAME",
		"redis-sentinel://:secret-1@s1,s2:26379?master=m":      "sentinel address 1 of 2 is not host:port",
		"redis-sentinel://:secret-1@s1:26379?master=m&bogus=1": "unexpected option",
		"redis-cluster://:secret-1@n1:7000/2":                  "only database 0",
		"redis://:secret-1@host:6379/notanumber":               "invalid database number",
		"redis://:secret-1@host:6379/0?addr=n2:7001&nope=2":    "unexpected option",
		"redis://:secret-1@h\x7fost:6379":                      "not a valid URL",
		"redis://:secret-1@host:6379?dial_timeout=soon":        "option dial_timeout is not a valid duration",
	}
	for raw, want := range cases {
		_, err := Parse(raw)
		require.ErrorContains(t, err, want, raw)
		require.NotContains(t, err.Error(), "secret-1", raw)
	}
}

func TestRedactMasksEveryPassword(t *testing.T) {
	got := Redact("redis-sentinel://:sentinel-pw@s1:26379,s2:26379/1?master=m&password=primary-pw")
	require.NotContains(t, got, "sentinel-pw")
	require.NotContains(t, got, "primary-pw")
	require.Contains(t, got, "master=m")
	require.Equal(t, "redis://:xxxxx@h:6379/0", Redact("redis://:pw@h:6379/0"))
}

// A password holding / # ? & or an unencoded % cuts a URL in the wrong
// place, and pieces of it land where the parsers quote them (url.Parse's
// port, go-redis's database number, option names and values). No error
// names any piece of two characters or more of the password.
func TestParseErrorsQuoteNoPieceOfAMisplacedPassword(t *testing.T) {
	// password is the password as meant, less any name of go-redis's own
	// options that it holds (those are named in errors, and are no secret).
	cases := []struct{ raw, password string }{
		{"redis://:Kq/Zx9w@host:6379", "Kq/Zx9w"},              // url.Parse: invalid port ":Kq"
		{"redis://:Kq#Zx9w@host:6379", "Kq#Zx9w"},              // the same through a #
		{"redis://:Kq?Zx9w@host:6379", "Kq?Zx9w"},              // and a ?
		{"redis://:Kq%zzZx9w@host:6379", "Kq%zzZx9w"},          // url.Parse: invalid URL escape "%zz"
		{"redis://:4711/Zx9w@host:6379/0", "4711/Zx9w"},        // go-redis: database "Zx9w@host:6379/0"
		{"redis://:4711/58@host:6379", "4711/58"},              // a database that would be a number but for the @
		{"redis://:4711?Zx9w@host:6379", "4711?Zx9w"},          // go-redis: unexpected option "Zx9w@host:6379"
		{"redis://:4711?dial_timeout=Zx9w@host", "4711?=Zx9w"}, // go-redis: invalid duration "Zx9w@host"
		{"redis://:4711#Zx9w@host:6379", "4711#Zx9w"},          // a fragment, which go-redis ignores
		{"Kq:Zx9w@host:6379", "Kq:Zx9w"},                       // no scheme: "kq" reads as one
		{"redis-sentinel://:Kq/Zx9w@s1:26379,s2:26379?master=m", "Kq/Zx9w"},
		{"redis-sentinel://:4711/Zx9w@s1:26379?master=m", "4711/Zx9w"},
		{"redis-sentinel://:Qa:Vb,Wc:1?master=m&Zx9w@s1:26379", "Qa:Vb,Wc:1?=m&Zx9w"}, // sentinel ":Qa:Vb"
		{"redis-sentinel://s1:26379?master=m&password=Kq&Zx9w", "Kq&Zx9w"},            // the primary's
		{"redis-cluster://:4711/Zx9w@n1:7000?addr=n2:7001", "4711/Zx9w"},
		{"redis-cluster://:4711?Zx9w@n1:7000", "4711?Zx9w"},
		{"redis://:4711?addr=Zx9w@n1", "4711?=Zx9w"}, // go-redis: unable to parse addr param
	}
	for _, tc := range cases {
		_, err := Parse(tc.raw)
		require.Error(t, err, tc.raw)
		msg := err.Error()
		for i := 0; i < len(tc.password); i++ {
			for j := i + 2; j <= len(tc.password); j++ {
				require.NotContains(t, msg, tc.password[i:j], "%s: %q", tc.raw, msg)
			}
		}
		t.Logf("%s: %s", tc.raw, msg)
	}
}

// go-redis names the TLS server after the first sentinel or seed and shares
// that configuration with every connection; Parse leaves the name empty so
// that each connection checks the certificate of the address it dials.
func TestParseTLSChecksEachAddressByItsOwnName(t *testing.T) {
	s, err := Parse("rediss-sentinel://s1.example:26379,s2.example:26379?master=m&skip_verify=true")
	require.NoError(t, err)
	require.NotNil(t, s.failover.TLSConfig)
	require.Empty(t, s.failover.TLSConfig.ServerName)
	require.Equal(t, uint16(tls.VersionTLS12), s.failover.TLSConfig.MinVersion, "go-redis's other settings are kept")
	require.True(t, s.failover.TLSConfig.InsecureSkipVerify, "skip_verify is kept")
	require.Empty(t, s.Asynq.(asynq.RedisFailoverClientOpt).TLSConfig.ServerName)

	c, err := Parse("rediss-cluster://n1.example:7000?addr=n2.example:7001")
	require.NoError(t, err)
	require.NotNil(t, c.cluster.TLSConfig)
	require.Empty(t, c.cluster.TLSConfig.ServerName)
	require.Empty(t, c.Asynq.(asynq.RedisClusterClientOpt).TLSConfig.ServerName)

	// One server keeps go-redis's name: it has only the one address.
	one, err := Parse("rediss://cache.example:6380/0")
	require.NoError(t, err)
	require.Equal(t, "cache.example", one.single.TLSConfig.ServerName)
}

// The same, through a handshake: two servers whose certificates each name
// only their own address ("localhost", "127.0.0.1"), dialled as go-redis's
// dialer does (tls.DialWithDialer with the shared configuration). Both
// handshakes succeed; with go-redis's own ServerName the second fails.
func TestParseTLSHandshakesWithEverySeed(t *testing.T) {
	pool, byName, byIP := twoCertificates(t)
	a, b := tlsListener(t, byName), tlsListener(t, byIP)
	_, aPort, _ := net.SplitHostPort(a)
	c, err := Parse("rediss-cluster://localhost:" + aPort + "?addr=" + b)
	require.NoError(t, err)
	cfg := c.cluster.TLSConfig.Clone()
	cfg.RootCAs = pool
	for _, addr := range c.cluster.Addrs {
		require.NoError(t, handshake(addr, cfg), addr)
	}
	bug := cfg.Clone()
	bug.ServerName = "localhost" // what go-redis sets: the first seed's host
	require.ErrorContains(t, handshake(b, bug), "certificate", "the test tells the two names apart")
}

// twoCertificates makes a CA and two server certificates, one for the name
// localhost and one for the address 127.0.0.1.
func twoCertificates(t *testing.T) (*x509.CertPool, tls.Certificate, tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	leaf := func(serial int64, dns []string, ips []net.IP) tls.Certificate {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "node"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			DNSNames: dns, IPAddresses: ips, KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		require.NoError(t, err)
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	return pool, leaf(2, []string{"localhost"}, nil), leaf(3, nil, []net.IP{net.IPv4(127, 0, 0, 1)})
}

// tlsListener accepts TLS connections on a loopback port with cert and
// completes their handshakes; it returns the address.
func tlsListener(t *testing.T, cert tls.Certificate) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			_ = conn.(*tls.Conn).Handshake()
			_ = conn.Close()
		}
	}()
	return ln.Addr().String()
}

// handshake dials addr as go-redis's dialer does and completes the
// handshake.
func handshake(addr string, cfg *tls.Config) error {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	return conn.Close()
}
