/*
Copyright 2026 The Storefront Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package e2e_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/localcluster"
	"github.com/storefront-operator/storefront/test/testenv"
)

// TestVerifyFullAgainstTheCAMountedFromASecret runs two Storefronts whose databases
// are verified (sslmode=verify-full) against a CA bundle from a Secret
// (caBundleSecretRef), which the kubelet mounts into the shop's pods: one trusts the
// throwaway CA that signed the database servers' certificates and becomes Ready,
// serving from its database; the other trusts another CA, and its first connection (the
// Job that sets up the shop's login, as the master user) fails on the certificate.
func TestVerifyFullAgainstTheCAMountedFromASecret(t *testing.T) {
	ctx := context.Background()
	ns := "verify-full"
	createNamespace(t, ns)
	clusterCA, err := os.ReadFile(cluster.CAFile())
	if err != nil {
		t.Fatal(err)
	}
	for name, ca := range map[string][]byte{"cluster-ca": clusterCA, "other-ca": otherCA(t)} {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{"ca.crt": ca}}
		if err := cluster.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	trusting := storefrontTrusting(t, ns, "trusting", "cluster-ca")
	distrusting := storefrontTrusting(t, ns, "distrusting", "other-ca")
	for _, sf := range []*shopv1alpha1.Storefront{trusting, distrusting} {
		if err := cluster.Client.Create(ctx, sf); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, sf := range []*shopv1alpha1.Storefront{trusting, distrusting} {
			_ = cluster.Client.Delete(ctx, sf)
		}
	}()
	key := client.ObjectKeyFromObject(trusting)
	defer dumpOnFailure(t, key)

	w := &watcher{t: t, key: key, progress: localcluster.NewProgress(time.Now())}
	w.waitReady(t, trusting.Spec.Image, readyTimeout)
	conn := &corev1.Secret{}
	if err := cluster.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "trusting-connection"}, conn); err != nil {
		t.Fatal(err)
	}
	dbURL := string(conn.Data["DATABASE_URL"])
	for _, want := range []string{"sslmode=verify-full", "sslrootcert=%2Fetc%2Fstorefront%2Fdatabase-ca%2Fca.crt"} {
		if !strings.Contains(dbURL, want) {
			t.Errorf("DATABASE_URL lacks %s", want)
		}
	}
	pods := servingPods(t, ns, trusting.Spec.Image)
	if len(pods) == 0 {
		t.Fatal("no pod serves the trusting Storefront")
	}
	for _, p := range pods {
		if !strings.HasPrefix(p.Namespace+"/"+p.Name, ns+"/trusting-") {
			continue
		}
		// The Secret's key, where the kubelet mounted it for the pod.
		mounted, err := os.ReadFile(filepath.Join(cluster.Dir(), "pods", ns, p.Name, "volumes", "database-ca", "ca.crt"))
		if err != nil {
			t.Fatalf("the CA bundle of pod %s: %v", p.Name, err)
		}
		if !bytes.Equal(mounted, clusterCA) {
			t.Errorf("pod %s has a CA bundle other than the Secret's", p.Name)
		}
	}
	// The shop reads its catalog from the verified database.
	base := "http://" + trusting.Spec.Ingress.Host
	servedThroughTheLoadBalancer(t, base+"/api/v1/categories")

	dkey := client.ObjectKeyFromObject(distrusting)
	// Its first connection is the Job that sets up the shop's login as the master user.
	waitFor(t, "the distrusting Storefront's first login Job failing on the certificate", 3*time.Minute, func() (bool, string) {
		sf := storefront(t, dkey)
		c := condition(sf, shopv1alpha1.ConditionDatabaseReady)
		return c.Reason == shopv1alpha1.ReasonLoginFailed && strings.Contains(c.Message, "certificate signed by unknown authority"),
			c.Reason + ": " + c.Message
	})
	if c := condition(storefront(t, dkey), shopv1alpha1.ConditionSchemaMigrated); c.Status == metav1.ConditionTrue {
		t.Errorf("the Storefront that trusts another CA migrated: %s", c.Message)
	}
	if sf := storefront(t, dkey); localcluster.ReadyNow(sf) {
		t.Errorf("the Storefront that trusts another CA is Ready")
	}
}

// storefrontTrusting is the sample Storefront as name in ns, its database verified
// against the Secret secret's ca.crt.
func storefrontTrusting(t *testing.T, ns, name, secret string) *shopv1alpha1.Storefront {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", "shop_v1alpha1_storefront.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	sf := &shopv1alpha1.Storefront{}
	if err := yaml.UnmarshalStrict(b, sf); err != nil {
		t.Fatal(err)
	}
	sf.Namespace, sf.Name = ns, name
	sf.Spec.Ingress.Host = name + ".example"
	sf.Spec.Database.Aurora.DeletionPolicy = shopv1alpha1.DeletionPolicyDelete
	sf.Spec.Database.Aurora.CABundleSecretRef = &shopv1alpha1.SecretKeyRef{Name: secret, Key: "ca.crt"}
	return sf
}

// otherCA is a CA certificate that signed nothing of the cluster's.
func otherCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "another CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
