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
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
		currentClusterObjectName(sf), sf.Status.Migration.Image, sf.Status.Migration.Database, shopv1alpha1.AnnotationRetryProvisioning)
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
	jobs, err := r.databaseJobs(ctx, sf)
	if err != nil {
		return err
	}
	for i := range jobs {
		job := &jobs[i]
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

// databaseJobs are the Storefront's Jobs that work on its database: the migration Jobs
// and the login Jobs (storefront_rotation.go), which carry another component label.
func (r *StorefrontReconciler) databaseJobs(ctx context.Context, sf *shopv1alpha1.Storefront) ([]batchv1.Job, error) {
	var out []batchv1.Job
	for _, component := range []string{componentMigration, componentDBLogin} {
		list := &batchv1.JobList{}
		if err := r.List(ctx, list, client.InNamespace(sf.Namespace), client.MatchingLabels(selectorLabels(sf, component))); err != nil {
			return nil, fmt.Errorf("listing %s jobs: %w", component, err)
		}
		out = append(out, list.Items...)
	}
	return out, nil
}

// annotationDatabase on a migration Job records the database it migrates
// (status.migration.database's form), so that a Job that ran on the previous database is
// not taken for one that ran on the new one.
const annotationDatabase = "shop.storefront.dev/database"

// databaseSwitch is an external URL moved to another database (host, port or database
// name) than the one the served image's migrations ran on. The new database may be
// empty: the served image's migration runs on it first, through <name>-migrate-connection,
// while the connection Secret keeps the previous URL (held), so that no pod connects to
// a database without the schema; once the migration succeeded status.migration names the
// new database, the connection Secret moves and the pods roll.
type databaseSwitch struct {
	pending bool
	// held is the database the connection Secret keeps meanwhile (nil: none yet).
	held *storeEndpoint
}

// noteExternalDatabase records the external database of this reconcile and whether it
// is another than the one the served image's migrations ran on.
func noteExternalDatabase(s *scope, ep *storeEndpoint) {
	s.databaseID = externalDatabaseID(ep)
	m := s.sf.Status.Migration
	s.dbSwitch.pending = m != nil && m.Database != "" && m.Database != s.databaseID && s.sf.Status.MigratedImage != ""
}

// servedDatabase is the database the shop's pods use: the previous one while a switch
// waits for its migration.
func (s *scope) servedDatabase() *storeEndpoint {
	if s.dbSwitch.pending && s.dbSwitch.held != nil {
		return s.dbSwitch.held
	}
	return s.database
}

// connectionDatabase is the database the connection Secret names. During a switch it is
// the URL the Secret has (the pods' database), and the new URL goes to
// <name>-migrate-connection, which the migration Job reads instead.
func (r *StorefrontReconciler) connectionDatabase(ctx context.Context, s *scope) (*storeEndpoint, error) {
	if !s.dbSwitch.pending {
		return s.database, nil
	}
	// An Aurora database's migrations log in as the master user, whose URL the login
	// phase keeps in <name>-migrate-connection; s.database holds the application role's
	// URL there, which may not run migrations (its privileges on goose_db_version are
	// revoked: shop/platform/database/roles.go).
	if s.sf.Spec.Database.Aurora == nil {
		if _, err := r.applyObject(ctx, desiredMigrateConnectionSecret(s.sf, r.Scheme, s.database.URL)); err != nil {
			return nil, err
		}
	}
	live := &corev1.Secret{}
	err := r.Get(ctx, client.ObjectKey{Namespace: s.sf.Namespace, Name: objectName(s.sf, roleConnection)}, live)
	if apierrors.IsNotFound(err) {
		return s.database, nil // no pod has a database yet
	}
	if err != nil {
		return nil, fmt.Errorf("reading secret %s: %w", objectName(s.sf, roleConnection), err)
	}
	raw := strings.TrimSpace(string(live.Data[keyDatabaseURL]))
	host, port, perr := parsePostgresURL(raw)
	if perr != nil {
		return s.database, nil
	}
	s.dbSwitch.held = &storeEndpoint{Host: host, Port: port, URL: raw}
	return s.dbSwitch.held, nil
}

// switchMessage explains a switch in SchemaMigrated.
func switchMessage(s *scope, msg string) string {
	if !s.dbSwitch.pending {
		return msg
	}
	return fmt.Sprintf("The external database moved to %s (%s, previously %s): the pods keep the previous database until the migrations of %s ran on the new one. %s",
		hostPort(s.database), s.databaseID, s.sf.Status.Migration.Database, s.sf.Spec.Image, msg)
}

// recreatedDatabaseMessage explains DatabaseLost for a DBCluster created again under
// the same identifier (a new dbClusterResourceID): a new, empty cluster.
func recreatedDatabaseMessage(sf *shopv1alpha1.Storefront, id string) string {
	return fmt.Sprintf("DBCluster %s is another cluster (%s) than the one the migrations of %s ran on (%s): it was deleted and created again outside the operator, and is empty. "+
		"The shop is not moved to it; to migrate it and move the shop to it, set the annotation %s to a new value",
		currentClusterObjectName(sf), id, sf.Status.Migration.Image, sf.Status.Migration.Database, shopv1alpha1.AnnotationRetryProvisioning)
}
