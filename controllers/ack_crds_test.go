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

package controllers

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
	"github.com/storefront-operator/storefront/test/fake"
	"github.com/storefront-operator/storefront/test/testenv"
)

// Every field the operator writes on an ACK object, and every field the ACK stand-in
// writes back (spec and status), is known to both sets of ACK CRDs: the real ones
// (rds-controller 1.11.1, elasticache-controller 1.8.0) and the project's minimal ones in
// test/crds/ack. Field validation Strict makes the API server refuse an unknown field
// instead of dropping it.
func TestACKObjectsFitBothCRDSets(t *testing.T) {
	dir, real, err := testenv.ACKCRDDir()
	if err != nil {
		t.Fatal(err)
	}
	sets := map[string]client.Client{dir: k8sClient} // the suite's API server has one set
	minimal := filepath.Join(testenv.RepoRoot(), "test", "crds", "ack")
	if real {
		assets, err := testenv.KubebuilderAssets()
		if err != nil {
			t.Fatal(err)
		}
		env := &envtest.Environment{BinaryAssetsDirectory: assets, CRDDirectoryPaths: []string{minimal},
			ErrorIfCRDPathMissing: true, ControlPlaneStartTimeout: time.Minute, ControlPlaneStopTimeout: time.Minute}
		minimalCfg, err := env.Start()
		if err != nil {
			t.Fatalf("starting an API server with the minimal ACK CRDs: %v", err)
		}
		t.Cleanup(func() { _ = env.Stop() })
		if sets[minimal], err = client.New(minimalCfg, client.Options{Scheme: testScheme}); err != nil {
			t.Fatal(err)
		}
	} else {
		t.Logf("the real ACK CRDs are absent (ACK_CRDS_DIR, ../shared/ack-crds): only %s is checked", dir)
	}
	for name, c := range sets {
		t.Run(filepath.Base(filepath.Dir(name))+"/"+filepath.Base(name), func(t *testing.T) {
			checkACKObjectsStrict(t, c)
		})
	}
}

func checkACKObjectsStrict(t *testing.T, c client.Client) {
	ctx := context.Background()
	strict := client.FieldValidation("Strict")
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "ack-crds-"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	sf := storefrontNamed("acme")
	sf.Namespace, sf.UID = ns.Name, "7a1c3e4f-0000-4000-8000-000000000003"
	sf.Spec.Database.Aurora = &shopv1alpha1.AuroraDatabase{EngineVersion: "16.6", MinCapacity: "0.5", MaxCapacity: "4"}
	sf.Spec.Cache = &shopv1alpha1.CacheSpec{Serverless: &shopv1alpha1.ServerlessCache{MaxDataStorageGB: 5, MaxECPUPerSecond: 5000}}
	password := dbPassword{version: 1, secret: &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "acme-db-password-v1", Namespace: ns.Name}}}
	objects := []*unstructured.Unstructured{
		desiredDBSubnetGroup(sf, testScheme, "eu-central-1", []string{"subnet-a", "subnet-b"}),
		desiredDBCluster(sf, testScheme, "eu-central-1", []string{"sg-a", "sg-b"}, password),
		desiredDBInstance(sf, testScheme, "eu-central-1"),
		desiredCacheUser(sf, testScheme, "eu-central-1", objectName(sf, roleCacheDefault), roleCacheDefault,
			cacheDefaultUserID(sf), cacheDefaultUserName, cacheDefaultAccessString, objectName(sf, roleCacheDefault)),
		desiredCacheUser(sf, testScheme, "eu-central-1", cacheUserObjectName(sf, 1), roleCacheUser,
			cacheUserID(sf, 1), cacheUserID(sf, 1), CacheUserAccessString, cachePasswordSecretName(sf, 1)),
		desiredCacheUserGroup(sf, testScheme, "eu-central-1", []string{cacheDefaultUserID(sf), cacheUserID(sf, 1)}),
		// After its user group: ElastiCache refuses a cache a group it does not have.
		desiredServerlessCache(sf, testScheme, "eu-central-1", []string{"subnet-c"}, []string{"sg-c"}, cacheUserGroupID(sf)),
	}
	// What ACK writes back: the fields the stand-in's AWS returns (sdkFind, sdkCreate),
	// and the statuses it builds from them, with every condition it writes.
	aws := fake.NewAWS(nil, 0, nil)
	conditions := []any{}
	for _, t := range []string{fake.ConditionSynced, fake.ConditionTerminal, fake.ConditionRecoverable, fake.ConditionReady, fake.ConditionLateInitialized} {
		conditions = append(conditions, map[string]any{"type": t, "status": "True", "reason": "r", "message": "m", "lastTransitionTime": "2026-01-02T03:04:05Z"})
	}
	for _, desired := range objects {
		kind := desired.GetKind()
		obj := desired.DeepCopy()
		if err := c.Create(ctx, obj, strict); err != nil {
			t.Fatalf("creating %s with the operator's fields: %v", kind, err)
		}
		idField := map[string]string{"DBSubnetGroup": "name", "DBCluster": "dbClusterIdentifier", "DBInstance": "dbInstanceIdentifier",
			"ServerlessCache": "serverlessCacheName", "User": "userID", "UserGroup": "userGroupID"}[kind]
		key := fake.AWSKey{Account: fake.DefaultAWSAccount.ID, Region: "eu-central-1", Kind: kind, ID: specField(obj, idField)}
		var res fake.AWSResource
		var err error
		if kind == "User" {
			res, err = aws.CreateUser(key, obj.Object["spec"].(map[string]any), []string{"password"}, nil)
		} else {
			res, err = aws.Create(key, obj.Object["spec"].(map[string]any), "password", nil)
		}
		if err != nil {
			t.Fatalf("%s: the stand-in's AWS refused it: %v", kind, err)
		}
		before := obj.DeepCopy()
		for k, v := range res.Spec {
			if err := unstructured.SetNestedField(obj.Object, v, "spec", k); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Patch(ctx, obj, client.MergeFrom(before), strict); err != nil {
			t.Fatalf("%s: ACK's write-backs: %v", kind, err)
		}
		available, _ := aws.Get(key)
		for i, r := range []fake.AWSResource{res, available} {
			st := fake.DescribedStatus(r)
			st["conditions"] = conditions
			obj.Object["status"] = st
			if err := c.Status().Update(ctx, obj, strict); err != nil {
				t.Fatalf("%s: status %d: %v", kind, i, err)
			}
		}
	}
}
