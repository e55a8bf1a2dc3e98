package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// CA is a throwaway certificate authority and the one server certificate it signs, valid
// for localhost, 127.0.0.1 and ::1. Clients trust it through CAFile (SSL_CERT_FILE for a
// process, Pool in-process), as the shop trusts a cloud's CA bundle.
type CA struct {
	// CAFile is the CA certificate (PEM); CertFile and KeyFile the server's.
	CAFile, CertFile, KeyFile string
	pool                      *x509.CertPool
}

// NewCA writes ca.crt, server.crt and server.key into dir.
func NewCA(dir string) (*CA, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the CA key: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serialNumber(),
		Subject:               pkix.Name{CommonName: "testenv throwaway CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("signing the CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the server key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serialNumber(),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Redis's cluster bus is TLS too (tls-cluster yes): each node is the others' client.
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:    []string{"localhost"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("signing the server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	ca := &CA{CAFile: filepath.Join(dir, "ca.crt"), CertFile: filepath.Join(dir, "server.crt"), KeyFile: filepath.Join(dir, "server.key")}
	for _, f := range []struct {
		path, kind string
		der        []byte
		mode       os.FileMode
	}{
		{ca.CAFile, "CERTIFICATE", caDER, 0o644},
		{ca.CertFile, "CERTIFICATE", der, 0o644},
		{ca.KeyFile, "PRIVATE KEY", keyDER, 0o600},
	} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.kind, Bytes: f.der}), f.mode); err != nil {
			return nil, err
		}
	}
	ca.pool = x509.NewCertPool()
	ca.pool.AddCert(caCert)
	return ca, nil
}

// Pool is a certificate pool holding the CA alone (read from CAFile for a CA that
// NewCA did not make; nil if it cannot be read).
func (ca *CA) Pool() *x509.CertPool {
	if ca.pool != nil {
		return ca.pool
	}
	b, err := os.ReadFile(ca.CAFile)
	if err != nil {
		return nil
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil
	}
	return p
}

func serialNumber() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

var (
	caOnce sync.Once
	caErr  error
	procCA *CA
)

// TestCA is this process's throwaway CA (made on first use, removed by Stop): every Redis
// server testenv starts without a CA of its own presents a certificate it signed.
func TestCA() (*CA, error) {
	caOnce.Do(func() {
		dir, err := os.MkdirTemp("", "storefront-ca-*")
		if err != nil {
			caErr = err
			return
		}
		register(func() { _ = os.RemoveAll(dir) })
		procCA, caErr = NewCA(dir)
	})
	if caErr != nil {
		return nil, errors.Join(errors.New("testenv: making the throwaway CA"), caErr)
	}
	return procCA, nil
}
