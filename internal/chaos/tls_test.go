//go:build chaos

package chaos

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"
)

// testCA is a certificate authority made for one test, with a server
// certificate for 127.0.0.1 and localhost.
type testCA struct {
	pool              *x509.CertPool
	caPEM             []byte
	certPEM, keyPEM   []byte
	caFile            string
	certFile, keyFile string
}

// newTestCA makes the CA and the server certificate, and writes them to
// dir.
func newTestCA(t *testing.T, dir string) *testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "adsync chaos test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	require.NoError(t, err)
	ca := &testCA{
		pool:    x509.NewCertPool(),
		caPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	ca.pool.AddCert(caCert)
	ca.caFile, ca.certFile, ca.keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	require.NoError(t, os.WriteFile(ca.caFile, ca.caPEM, 0o600))
	require.NoError(t, os.WriteFile(ca.certFile, ca.certPEM, 0o600))
	require.NoError(t, os.WriteFile(ca.keyFile, ca.keyPEM, 0o600))
	return ca
}

// Redis and PostgreSQL that accept only TLS: with REDIS_URL=rediss://...
// (the test CA added through SSL_CERT_FILE) and DATABASE_URL with
// sslmode=verify-full and sslrootcert, the worker and the enqueuer sync
// every campaign, every database connection is encrypted, and plain-text
// connections are refused.
func TestTLSToRedisAndPostgres(t *testing.T) {
	ctx := context.Background()
	ca := newTestCA(t, t.TempDir())
	rs := startRedisTLS(t, redisPassword, ca)

	pg := initPostgres(t)
	pg.extra = []string{"-c", "ssl=on",
		"-c", "ssl_cert_file=" + pg.writeOwned("server.pem", ca.certPEM),
		"-c", "ssl_key_file=" + pg.writeOwned("server.key", ca.keyPEM),
		"-c", "hba_file=" + pg.writeOwned("pg_hba.conf", []byte(
			"local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n"))}
	pg.query = "sslmode=verify-full&sslrootcert=" + ca.caFile
	pg.start()

	d := deploy(t, deployOptions{clients: 2, redisURL: rs.url(), databaseURL: pg.url("adsync", dbPassword),
		env: map[string]string{"SSL_CERT_FILE": ca.caFile}})
	w := d.startWorker()
	enq := d.enqueuer("sync", "--wait")
	ids := d.runIDs(enq)
	require.Equal(t, 0, enq.wait(t, 2*time.Minute), "sync over TLS:\n%s", tail(enq.stdout(), 20))
	d.verify(d.waitRuns(ids, time.Minute))
	d.requireNoSecrets(w)

	conn, err := pgx.Connect(ctx, pg.url("adsync", ""))
	require.NoError(t, err)
	defer conn.Close(ctx)
	var plain, encrypted int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE NOT s.ssl), count(*) FILTER (WHERE s.ssl)
		FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = 'adsync'`).Scan(&plain, &encrypted))
	require.Zero(t, plain, "unencrypted connections to the database")
	require.GreaterOrEqual(t, encrypted, 2, "the worker's pool and this test's connection are encrypted")
	w.stop(t)

	// Plain text is refused by both.
	_, err = pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/adsync?sslmode=disable", pg.port))
	require.ErrorContains(t, err, "pg_hba.conf rejects connection")
	plainRedis := redis.NewClient(&redis.Options{Addr: rs.addr(), Password: redisPassword, MaxRetries: -1,
		DialTimeout: time.Second, ReadTimeout: time.Second})
	defer plainRedis.Close()
	require.Error(t, plainRedis.Ping(ctx).Err(), "Redis answered a plain-text client")
}
