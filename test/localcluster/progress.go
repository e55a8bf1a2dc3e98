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

package localcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// Apply creates the objects of a YAML file (several documents allowed), creating their
// namespaces first when they do not exist, as `kubectl create namespace` and `kubectl
// create -f` would. Field validation is Strict, so a misspelt field fails.
func (c *Cluster) Apply(ctx context.Context, path string) ([]*unstructured.Unstructured, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var objs []*unstructured.Unstructured
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("decoding %s: %w", path, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if ns := u.GetNamespace(); ns != "" {
			err := c.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				return nil, fmt.Errorf("creating namespace %s: %w", ns, err)
			}
		}
		if err := c.Client.Create(ctx, u, client.FieldValidation(metav1.FieldValidationStrict), client.FieldOwner("kubectl-create")); err != nil {
			return nil, fmt.Errorf("creating %s %s from %s: %w", u.GetKind(), u.GetName(), path, err)
		}
		objs = append(objs, u)
	}
	return objs, nil
}

// Progress turns successive observations of a Storefront into one line per change of
// its phase or of a condition, stamped with the time since start.
type Progress struct {
	start      time.Time
	phase      string
	conditions map[string]string
}

// NewProgress starts the clock.
func NewProgress(start time.Time) *Progress {
	return &Progress{start: start, conditions: map[string]string{}}
}

// conditionOrder is the order conditions are reported in when several change at once.
var conditionOrder = []string{
	shopv1alpha1.ConditionDatabaseReady, shopv1alpha1.ConditionCacheReady, shopv1alpha1.ConditionSchemaMigrated,
	shopv1alpha1.ConditionAvailable, shopv1alpha1.ConditionReady,
}

// Observe returns the lines for what changed since the last observation.
func (p *Progress) Observe(sf *shopv1alpha1.Storefront, now time.Time) []string {
	stamp := fmt.Sprintf("[%6.1fs]", now.Sub(p.start).Seconds())
	var lines []string
	if phase := string(sf.Status.Phase); phase != p.phase && phase != "" {
		lines = append(lines, fmt.Sprintf("%s phase %s", stamp, phase))
		p.phase = phase
	}
	for _, t := range conditionOrder {
		c := meta.FindStatusCondition(sf.Status.Conditions, t)
		if c == nil {
			continue
		}
		key := string(c.Status) + "/" + c.Reason + "/" + c.Message
		if p.conditions[t] == key {
			continue
		}
		p.conditions[t] = key
		lines = append(lines, fmt.Sprintf("%s %-14s %-5s %s: %s", stamp, t, c.Status, c.Reason, oneLine(c.Message)))
	}
	return lines
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// ReadyNow reports whether the Storefront is Ready for its current generation.
func ReadyNow(sf *shopv1alpha1.Storefront) bool {
	c := meta.FindStatusCondition(sf.Status.Conditions, shopv1alpha1.ConditionReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == sf.Generation &&
		sf.Status.ObservedGeneration == sf.Generation
}

// StorefrontURL is where the Storefront's Ingress is reached here, from its load
// balancer status ("" while it has none). With spec.ingress.host set, status.url names
// that host, which resolves nowhere on this machine; this is the address behind it.
func (c *Cluster) StorefrontURL(ctx context.Context, namespace, name string) (string, error) {
	list := &networkingv1.IngressList{}
	if err := c.Client.List(ctx, list, client.InNamespace(namespace), client.MatchingLabels{"app.kubernetes.io/instance": name}); err != nil {
		return "", err
	}
	for _, ing := range list.Items {
		for _, lb := range ing.Status.LoadBalancer.Ingress {
			if lb.IP != "" && len(lb.Ports) > 0 {
				return fmt.Sprintf("http://%s:%d", lb.IP, lb.Ports[0].Port), nil
			}
		}
	}
	return "", nil
}
