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
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// envResolver resolves a container's environment as the kubelet does: envFrom first,
// in order, then env, each value expanded against the variables before it; Secrets and
// ConfigMaps are read from the API server at start, not from a cache.
type envResolver struct {
	reader client.Reader
	ns     string
	pod    *corev1.Pod
	podIP  string
	vars   map[string]string
	order  []string
	// secrets and configMaps read so far, by name (nil: not found).
	secrets    map[string]*corev1.Secret
	configMaps map[string]*corev1.ConfigMap
}

// resolveEnv returns the container's environment as NAME=value pairs, in definition
// order. A missing Secret, ConfigMap or key that is not optional is an error, which the
// kubelet reports as CreateContainerConfigError.
func resolveEnv(ctx context.Context, reader client.Reader, pod *corev1.Pod, c *corev1.Container, podIP string) ([]string, error) {
	r := &envResolver{reader: reader, ns: pod.Namespace, pod: pod, podIP: podIP, vars: map[string]string{},
		secrets: map[string]*corev1.Secret{}, configMaps: map[string]*corev1.ConfigMap{}}
	for _, from := range c.EnvFrom {
		if err := r.addFrom(ctx, from); err != nil {
			return nil, err
		}
	}
	for _, e := range c.Env {
		v, ok, err := r.value(ctx, e)
		if err != nil {
			return nil, err
		}
		if ok {
			r.set(e.Name, v)
		}
	}
	out := make([]string, 0, len(r.order))
	for _, k := range r.order {
		out = append(out, k+"="+r.vars[k])
	}
	return out, nil
}

func (r *envResolver) set(k, v string) {
	if _, ok := r.vars[k]; !ok {
		r.order = append(r.order, k)
	}
	r.vars[k] = v
}

func (r *envResolver) addFrom(ctx context.Context, from corev1.EnvFromSource) error {
	var data map[string]string
	switch {
	case from.SecretRef != nil:
		s, err := r.secret(ctx, from.SecretRef.Name)
		if err != nil {
			return err
		}
		if s == nil {
			if ptrTrue(from.SecretRef.Optional) {
				return nil
			}
			return fmt.Errorf("secret %q not found", from.SecretRef.Name)
		}
		data = map[string]string{}
		for k, v := range s.Data {
			data[k] = string(v)
		}
	case from.ConfigMapRef != nil:
		cm, err := r.configMap(ctx, from.ConfigMapRef.Name)
		if err != nil {
			return err
		}
		if cm == nil {
			if ptrTrue(from.ConfigMapRef.Optional) {
				return nil
			}
			return fmt.Errorf("configmap %q not found", from.ConfigMapRef.Name)
		}
		data = cm.Data
	}
	for k, v := range data {
		name := from.Prefix + k
		// The kubelet skips keys that are not valid variable names.
		if len(validation.IsEnvVarName(name)) == 0 {
			r.set(name, v)
		}
	}
	return nil
}

// value is the value of e; ok is false for an optional reference that is missing.
func (r *envResolver) value(ctx context.Context, e corev1.EnvVar) (v string, ok bool, err error) {
	src := e.ValueFrom
	if src == nil {
		return expand(e.Value, r.vars), true, nil
	}
	switch {
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, err := r.secret(ctx, ref.Name)
		if err != nil {
			return "", false, err
		}
		if s == nil {
			if ptrTrue(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("secret %q not found", ref.Name)
		}
		b, found := s.Data[ref.Key]
		if !found {
			if ptrTrue(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in Secret %s/%s", ref.Key, r.ns, ref.Name)
		}
		return string(b), true, nil
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, err := r.configMap(ctx, ref.Name)
		if err != nil {
			return "", false, err
		}
		if cm == nil {
			if ptrTrue(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("configmap %q not found", ref.Name)
		}
		s, found := cm.Data[ref.Key]
		if !found {
			if ptrTrue(ref.Optional) {
				return "", false, nil
			}
			return "", false, fmt.Errorf("couldn't find key %s in ConfigMap %s/%s", ref.Key, r.ns, ref.Name)
		}
		return s, true, nil
	case src.FieldRef != nil:
		return r.field(src.FieldRef.FieldPath)
	}
	return "", false, fmt.Errorf("environment variable %s: unsupported source", e.Name)
}

// field is a downward API value.
func (r *envResolver) field(path string) (string, bool, error) {
	p := r.pod
	switch path {
	case "metadata.name":
		return p.Name, true, nil
	case "metadata.namespace":
		return p.Namespace, true, nil
	case "metadata.uid":
		return string(p.UID), true, nil
	case "spec.nodeName":
		return p.Spec.NodeName, true, nil
	case "spec.serviceAccountName":
		return p.Spec.ServiceAccountName, true, nil
	case "status.podIP", "status.podIPs":
		return r.podIP, true, nil
	case "status.hostIP", "status.hostIPs":
		return podIP, true, nil
	}
	for prefix, m := range map[string]map[string]string{"metadata.labels": p.Labels, "metadata.annotations": p.Annotations} {
		if key, ok := strings.CutPrefix(path, prefix+"['"); ok {
			return m[strings.TrimSuffix(key, "']")], true, nil
		}
	}
	return "", false, fmt.Errorf("unsupported fieldRef %s", path)
}

func (r *envResolver) secret(ctx context.Context, name string) (*corev1.Secret, error) {
	if s, ok := r.secrets[name]; ok {
		return s, nil
	}
	s := &corev1.Secret{}
	if err := r.reader.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: name}, s); err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading secret %s: %w", name, err)
		}
		s = nil
	}
	r.secrets[name] = s
	return s, nil
}

func (r *envResolver) configMap(ctx context.Context, name string) (*corev1.ConfigMap, error) {
	if cm, ok := r.configMaps[name]; ok {
		return cm, nil
	}
	cm := &corev1.ConfigMap{}
	if err := r.reader.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: name}, cm); err != nil {
		if !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("reading configmap %s: %w", name, err)
		}
		cm = nil
	}
	r.configMaps[name] = cm
	return cm, nil
}

// expand replaces $(NAME) with the value of a variable defined before, as the kubelet
// does in env values, command and args: $$ is a literal $, and a reference to an
// undefined variable is left as written.
func expand(s string, vars map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			} else {
				b.WriteString(s[i : i+3+end])
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

func ptrTrue(b *bool) bool { return b != nil && *b }
