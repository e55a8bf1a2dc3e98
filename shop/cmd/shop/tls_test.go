package main_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/storefront-operator/storefront/test/testenv"
)

// writeCA writes a throwaway CA and a server certificate for 127.0.0.1/localhost into dir
// and returns the paths of the CA certificate, the server certificate and its key.
func writeCA(t *testing.T, dir string) (caPath, certPath, keyPath string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shop test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	caPath, certPath, keyPath = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	write := func(path, typ string, b []byte, mode os.FileMode) {
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(caPath, "CERTIFICATE", caDER, 0o644)
	write(certPath, "CERTIFICATE", der, 0o644)
	write(keyPath, "EC PRIVATE KEY", keyDER, 0o600)
	return caPath, certPath, keyPath
}

// TestTLSToTheDataStores runs migrate and serve against a PostgreSQL that requires TLS
// (sslmode=verify-full with sslrootcert) and a TLS-only cluster-mode Redis with an ACL
// user (rediss://shop:<password>@localhost:<port>) whose CA is trusted through
// SSL_CERT_FILE alone: no shop setting is involved.
func TestTLSToTheDataStores(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	caPath, certPath, keyPath := writeCA(t, dir)

	pg, err := testenv.StartPostgres(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Stop)
	admin, err := pgx.Connect(ctx, pg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = admin.Close(ctx) }()
	var dataDir string
	if err := admin.QueryRow(ctx, `SHOW data_directory`).Scan(&dataDir); err != nil {
		t.Fatal(err)
	}
	// The server reads its key as its own user and refuses a key others can read.
	pgCert, pgKey := filepath.Join(dataDir, "test-server.pem"), filepath.Join(dataDir, "test-server.key")
	st, err := os.Stat(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	owner := st.Sys().(*syscall.Stat_t)
	for src, dst := range map[string]string{certPath: pgCert, keyPath: pgKey} {
		b, _ := os.ReadFile(src)
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dst, int(owner.Uid), int(owner.Gid)); err != nil {
			t.Fatal(err)
		}
	}
	for _, stmt := range []string{
		fmt.Sprintf(`ALTER SYSTEM SET ssl_cert_file = '%s'`, pgCert),
		fmt.Sprintf(`ALTER SYSTEM SET ssl_key_file = '%s'`, pgKey),
		`ALTER SYSTEM SET ssl = on`,
		`SELECT pg_reload_conf()`,
	} {
		if _, err := admin.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	name, plainURL, err := pg.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(plainURL)
	q := u.Query()
	q.Set("sslmode", "verify-full")
	q.Set("sslrootcert", caPath)
	u.RawQuery = q.Encode()
	tlsURL := u.String()

	// What ElastiCache Serverless presents: cluster mode, TLS only, an ACL user.
	rd, err := testenv.StartRedis(ctx, testenv.RedisOptions{CA: &testenv.CA{CAFile: caPath, CertFile: certPath, KeyFile: keyPath}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rd.Stop)
	redisURL := rd.URL

	// Migrate waits for the reload to take effect: retry briefly.
	var r result
	for i := 0; i < 50; i++ {
		if r = run(t, bin, "", []string{"DATABASE_URL=" + tlsURL}, "migrate", "--seed=demo"); r.code == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond) // waiting for the server to reload its TLS settings
	}
	if r.code != 0 {
		t.Fatalf("migrate over TLS: %q", r.stderr)
	}

	base, _, logs := serveProcess(t, bin, "DATABASE_URL="+tlsURL, "REDIS_URL="+redisURL, "SSL_CERT_FILE="+caPath)
	for i := 0; i < 2; i++ {
		if code, err := get(base + "/api/v1/products/cork-yoga-mat"); err != nil || code != 200 {
			t.Fatalf("GET product: %d %v", code, err)
		}
	}
	resp, err := http.Get(metricsURL(base))
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(metrics), `shop_cache_requests_total{level="redis",result="miss"} 1`) ||
		strings.Contains(string(metrics), `result="error"`) {
		t.Errorf("the shop did not use the TLS Redis:\n%s\nlogs:\n%s", grep(string(metrics), "shop_cache"), logs.String())
	}
	var tlsConns int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.datname = $1 AND s.ssl`, name).Scan(&tlsConns); err != nil {
		t.Fatal(err)
	}
	if tlsConns == 0 {
		t.Error("the shop holds no TLS connection to PostgreSQL")
	}

	t.Run("an untrusted server certificate fails migrate with one line", func(t *testing.T) {
		otherCA, _, _ := writeCA(t, t.TempDir())
		bad := strings.Replace(tlsURL, url.QueryEscape(caPath), url.QueryEscape(otherCA), 1)
		oneLine(t, run(t, bin, "", []string{"DATABASE_URL=" + bad}, "migrate"), "certificate")
	})
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
