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
	"crypto/sha256"
	"encoding/hex"
	"strings"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// fieldOwner is the server-side apply field manager of everything the operator writes.
const fieldOwner = "storefront-operator"

// maxNameLength keeps every name we make a valid DNS-1123 label: Services, and the
// job-name label the Job controller puts on pods, allow no more.
const maxNameLength = 63

// Roles of the objects a Storefront owns; object names are <storefront>-<role>.
const (
	roleShop       = "shop"       // Deployment, Service, Ingress, HPA, PDB, ServiceAccount, NetworkPolicy
	roleMigrate    = "migrate"    // migration Jobs (suffixed by the image hash) and their NetworkPolicy
	roleConnection = "connection" // the Secret with DATABASE_URL and REDIS_URL
	roleApp        = "app"        // the Secret with the generated application secrets
)

// Roles of the objects of an Aurora database and a serverless cache.
const (
	roleDatabase   = "database"    // the ACK DBSubnetGroup, DBCluster and DBInstance
	roleCache      = "cache"       // the ACK ServerlessCache
	roleDBPassword = "db-password" // the versioned master-password Secrets, <name>-db-password-v<N>
)

// Label keys (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/).
const (
	labelName      = "app.kubernetes.io/name"
	labelInstance  = "app.kubernetes.io/instance"
	labelComponent = "app.kubernetes.io/component"
	labelManagedBy = "app.kubernetes.io/managed-by"

	appName = "storefront"
)

// Annotations the operator puts on the objects it owns.
const (
	// annotationConfigChecksum on the pod template rolls the pods when the connection or
	// application Secret changes: env from Secrets is read only at container start.
	annotationConfigChecksum = "shop.storefront.dev/config-checksum"
	// annotationImage on a migration Job records the image it migrates, so that the Job
	// can be matched to an image without parsing its pod template.
	annotationImage = "shop.storefront.dev/image"
)

// objectName is <storefront>-<role>, shortened with a hash suffix when it would exceed
// 63 characters.
func objectName(sf *shopv1alpha1.Storefront, role string) string {
	return shortName(sf.Name + "-" + role)
}

// migrationJobName is <storefront>-migrate-<8 hex of sha256(image)>: one Job per image,
// so a restarted operator finds the Job it created instead of creating another.
func migrationJobName(sf *shopv1alpha1.Storefront, image string) string {
	return shortName(sf.Name + "-" + roleMigrate + "-" + shortHash(image))
}

// shortName returns name when it fits in 63 characters; otherwise its first characters
// and 8 hex of its sha256, so that distinct long names stay distinct.
func shortName(name string) string {
	if len(name) <= maxNameLength {
		return name
	}
	suffix := shortHash(name)
	prefix := strings.TrimRight(name[:maxNameLength-len(suffix)-1], "-.")
	return prefix + "-" + suffix
}

// awsPrefixLength is how much of sf-<namespace>-<name> an AWS identifier keeps.
const awsPrefixLength = 40

// awsIdentifier names the Storefront's AWS resources (DB subnet group, DB cluster and
// instance, serverless cache). AWS names are unique per account and region, not per
// namespace, so it comes from both: sf-<namespace>-<name>, lower-case, every run of
// other characters than letters and digits made one hyphen, cut to 40 characters, then
// "-" and 8 hex of sha256(<namespace>/<name>) so that two Storefronts never share it.
// It starts with a letter, has no double or trailing hyphen and at most 49 characters:
// valid for RDS identifiers (63) and ElastiCache names.
func awsIdentifier(namespace, name string) string {
	var b strings.Builder
	hyphen := false
	for _, r := range strings.ToLower("sf-" + namespace + "-" + name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			hyphen = false
		} else if !hyphen {
			b.WriteByte('-')
			hyphen = true
		}
	}
	prefix := b.String()
	if len(prefix) > awsPrefixLength {
		prefix = prefix[:awsPrefixLength]
	}
	return strings.TrimRight(prefix, "-") + "-" + shortHash(namespace+"/"+name)
}

// shortHash is the first 8 hex characters of sha256(s).
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])[:8]
}

// labels are the recommended labels of an object of the given component.
func labels(sf *shopv1alpha1.Storefront, component string) map[string]string {
	return map[string]string{
		labelName:      appName,
		labelInstance:  sf.Name,
		labelComponent: component,
		labelManagedBy: fieldOwner,
	}
}

// selectorLabels select the pods of one component of one Storefront. They are a subset
// of labels and never change, since a Deployment's selector is immutable.
func selectorLabels(sf *shopv1alpha1.Storefront, component string) map[string]string {
	return map[string]string{
		labelName:      appName,
		labelInstance:  sf.Name,
		labelComponent: component,
	}
}
