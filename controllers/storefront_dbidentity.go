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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// A migration belongs to a database. status.migration records the database the served
// image's migrations ran on, so that a database that vanished is noticed instead of
// being created again empty under pods that expect a schema.

// externalDatabaseID is the identity of an external database: its host, port and
// database name, hashed (a changed password or option is the same database).
func externalDatabaseID(ep *storeEndpoint) string {
	name := ""
	if u, err := url.Parse(ep.URL); err == nil {
		name = strings.TrimPrefix(u.Path, "/")
	}
	sum := sha256.Sum256([]byte(fmt.Sprintf("%s:%d/%s", strings.ToLower(ep.Host), ep.Port, name)))
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// clusterResourceID is the DBCluster's dbClusterResourceID, AWS's identity of the
// cluster (a new cluster under the same identifier gets a new one).
func clusterResourceID(cluster *unstructured.Unstructured) string {
	id, _, _ := unstructured.NestedString(cluster.Object, "status", "dbClusterResourceID")
	return id
}

// lostDatabaseMessage explains DatabaseLost.
func lostDatabaseMessage(sf *shopv1alpha1.Storefront) string {
	return fmt.Sprintf("DBCluster %s, on which the migrations of %s ran (%s), is gone: its ACK object was deleted outside the operator. "+
		"It is not created again empty under the running shop; to create a new, empty database, set the annotation %s to a new value",
		objectName(sf, roleDatabase), sf.Status.Migration.Image, sf.Status.Migration.Database, shopv1alpha1.AnnotationRetryProvisioning)
}

// knewACluster reports whether the shop's migrations ran on an Aurora cluster.
func knewACluster(sf *shopv1alpha1.Storefront) bool {
	m := sf.Status.Migration
	return m != nil && strings.HasPrefix(m.Database, "cluster-")
}

// recordMigration notes that image's migrations ran on the database of this reconcile.
func recordMigration(s *scope, image string) {
	if s.databaseID == "" {
		return
	}
	m := &shopv1alpha1.MigrationStatus{Image: image, Database: s.databaseID}
	if cur := s.sf.Status.Migration; cur == nil || *cur != *m {
		s.sf.Status.Migration = m
	}
}

// forgetLostDatabase is the re-creation the retry-provisioning annotation allows: the
// new cluster is empty, so nothing counts as migrated and the finished migration Jobs
// (whose success was on the lost database) are deleted, so that the served image's
// migration runs again before the Deployment moves.
func (r *StorefrontReconciler) forgetLostDatabase(ctx context.Context, sf *shopv1alpha1.Storefront) error {
	log.FromContext(ctx).Info("Creating the lost database again, empty", "lostDatabase", sf.Status.Migration.Database)
	list := &batchv1.JobList{}
	if err := r.List(ctx, list, client.InNamespace(sf.Namespace), client.MatchingLabels(selectorLabels(sf, componentMigration))); err != nil {
		return fmt.Errorf("listing migration jobs: %w", err)
	}
	for i := range list.Items {
		job := &list.Items[i]
		// The login Jobs too: the application roles were in the lost database.
		if state, _ := migrationJobState(job); state == jobRunning || !metav1.IsControlledBy(job, sf) {
			continue
		}
		if err := r.deleteJob(ctx, job, "Deleting a migration Job of the lost database"); err != nil {
			return err
		}
	}
	sf.Status.Migration = nil
	sf.Status.MigratedImage, sf.Status.FailedImage, sf.Status.FailedRetry = "", "", ""
	if c := sf.Status.Credentials; c != nil {
		// The roles' state was the lost database's; the rotation requests handled stay
		// handled.
		c.ActiveRole, c.RetiringRole, c.Roles = "", "", nil
	}
	return nil
}
