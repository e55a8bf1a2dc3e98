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

// Package e2e runs the whole system on one machine (test/localcluster) unattended and
// asserts every step of a Storefront's life (docs/architecture.md#the-whole-system-on-one-machine): the sample becomes Ready; a
// shopper registers, searches, fills a cart and pays through its ALB; the shop's database
// role may not create or drop tables; a rotation of its login and an upgrade, each under
// a steady load of reads and orders, fail no request and lose no order; the upgrade
// migrates before any new replica serves; a failing
// migration leaves the old version serving and says why; a good tag recovers; a
// deletion with Retain keeps the database and its data; a database verified against
// a CA bundle mounted from a Secret is trusted only with the right CA; and the shop logs
// in to its cache as its own ElastiCache user, refused everything else, through a
// password rotation that fails no request; and product images uploaded by the admin are
// stored in S3 with the pod's Pod Identity credentials and served through the CDN; and a
// restore of the snapshot taken before an upgrade brings the database back as it was,
// on a new server, through new credentials.
package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/storefront-operator/storefront/test/localcluster"
	"github.com/storefront-operator/storefront/test/testenv"
)

var cluster *localcluster.Cluster

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	ctrl.SetLogger(logr.Discard())
	klog.SetLogger(logr.Discard())
	defer testenv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := os.MkdirTemp("", "e2e-bin-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(bin) }()
	images, err := localcluster.BuildShop(ctx, bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	// The kubeconfig is for the kubectl plugin (hibernate_test.go), run as users run it.
	cluster, err = localcluster.Start(ctx, localcluster.Options{Images: images, ACKDelay: 500 * time.Millisecond,
		KubeconfigPath: filepath.Join(bin, "kubeconfig")})
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the local cluster: %v\n", err)
		return 1
	}
	defer cluster.Stop()
	return m.Run()
}
