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

package fake_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/storefront-operator/storefront/test/fake"
)

// slowServer is a Provisioner whose server takes longer to start than AWS's delay: it
// moves the clock on by 5 s.
type slowServer struct {
	mu  sync.Mutex
	now time.Time
}

func (p *slowServer) clock() time.Time { p.mu.Lock(); defer p.mu.Unlock(); return p.now }
func (p *slowServer) Provision(context.Context, fake.ProvisionRequest) (fake.Endpoint, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.now = p.now.Add(5 * time.Second)
	return fake.Endpoint{Address: "127.0.0.1", Port: 15432}, nil
}
func (p *slowServer) ResetMasterPassword(context.Context, fake.AWSKey, string, string) error {
	return nil
}
func (p *slowServer) Deprovision(context.Context, fake.AWSKey, string) error { return nil }

// RDS API reference, CreateDBCluster and RestoreDBClusterFromSnapshot: the answer's
// DBCluster.Status is "creating", and the cluster stays so after the call returned (RDS
// takes minutes). A server that took longer than the delay to start must not make the
// cluster available at the first Describe: the delay counts from when it is up.
func TestAWSCreatingOutlastsASlowServer(t *testing.T) {
	p := &slowServer{now: time.Date(2026, 12, 6, 6, 0, 0, 0, time.UTC)}
	aws := fake.NewAWS(p.clock, time.Second, p)
	key := fake.AWSKey{Account: "111122223333", Region: "eu-west-1", Kind: fake.DBClusterGVK.Kind, ID: "slow"}
	created, err := aws.Create(key, map[string]any{"engine": "aurora-postgresql", "engineVersion": "16.6",
		"masterUsername": "storefront", "databaseName": "shop"}, "password-0123456789", nil)
	if err != nil {
		t.Fatal(err)
	}
	if created.Status != "creating" {
		t.Errorf("the create's answer: status %q, want creating", created.Status)
	}
	if r, _ := aws.Get(key); r.Status != "creating" {
		t.Errorf("the first Describe after the create: status %q, want creating", r.Status)
	}
	p.mu.Lock()
	p.now = p.now.Add(time.Second)
	p.mu.Unlock()
	if r, _ := aws.Get(key); r.Status != "available" {
		t.Errorf("a delay after the server is up: status %q, want available", r.Status)
	}
}
