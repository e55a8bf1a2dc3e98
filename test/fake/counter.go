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

package fake

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// MutationCounter counts the requests a controller-runtime client makes, by verb and
// kind: "create Job", "apply Deployment", "patch Storefront/status", "delete Secret", and
// reads ("get Secret", "list Job"; served by the cache when the client has one). Use its
// NewClient as ctrl.Options.NewClient so the manager's client is counted.
type MutationCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

// NewMutationCounter returns a counter at zero.
func NewMutationCounter() *MutationCounter {
	return &MutationCounter{counts: map[string]int{}}
}

// mutatingVerbs are the verbs that change the cluster.
var mutatingVerbs = map[string]bool{"create": true, "update": true, "patch": true, "apply": true, "delete": true, "deleteallof": true}

// NewClient builds the default client (reads from the cache when options say so) and
// counts every request through it. Its signature is client.NewClientFunc.
func (c *MutationCounter) NewClient(config *rest.Config, options client.Options) (client.Client, error) {
	base, err := client.NewWithWatch(config, options)
	if err != nil {
		return nil, err
	}
	return c.Wrap(base), nil
}

// Wrap counts the requests made through base.
func (c *MutationCounter) Wrap(base client.WithWatch) client.WithWatch {
	s := base.Scheme()
	kind := func(obj runtime.Object) string {
		if gvk, err := apiutil.GVKForObject(obj, s); err == nil {
			return strings.TrimSuffix(gvk.Kind, "List")
		}
		return fmt.Sprintf("%T", obj)
	}
	applyKind := func(obj runtime.ApplyConfiguration) string {
		switch k := obj.(type) {
		case interface{ GetKind() *string }: // typed apply configurations
			if k.GetKind() != nil {
				return *k.GetKind()
			}
		case interface{ GetKind() string }: // client.ApplyConfigurationFromUnstructured
			return k.GetKind()
		}
		return fmt.Sprintf("%T", obj)
	}
	patchVerb := func(p client.Patch) string {
		if p.Type() == types.ApplyPatchType {
			return "apply"
		}
		return "patch"
	}
	return interceptor.NewClient(base, interceptor.Funcs{
		Get: func(ctx context.Context, cl client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			c.add("get", kind(obj))
			return cl.Get(ctx, key, obj, opts...)
		},
		List: func(ctx context.Context, cl client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			c.add("list", kind(list))
			return cl.List(ctx, list, opts...)
		},
		Create: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			c.add("create", kind(obj))
			return cl.Create(ctx, obj, opts...)
		},
		Update: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			c.add("update", kind(obj))
			return cl.Update(ctx, obj, opts...)
		},
		Patch: func(ctx context.Context, cl client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			c.add(patchVerb(patch), kind(obj))
			return cl.Patch(ctx, obj, patch, opts...)
		},
		Apply: func(ctx context.Context, cl client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			c.add("apply", applyKind(obj))
			return cl.Apply(ctx, obj, opts...)
		},
		Delete: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
			c.add("delete", kind(obj))
			return cl.Delete(ctx, obj, opts...)
		},
		DeleteAllOf: func(ctx context.Context, cl client.WithWatch, obj client.Object, opts ...client.DeleteAllOfOption) error {
			c.add("deleteallof", kind(obj))
			return cl.DeleteAllOf(ctx, obj, opts...)
		},
		SubResourceCreate: func(ctx context.Context, cl client.Client, sub string, obj, subObj client.Object, opts ...client.SubResourceCreateOption) error {
			c.add("create", kind(obj)+"/"+sub)
			return cl.SubResource(sub).Create(ctx, obj, subObj, opts...)
		},
		SubResourceUpdate: func(ctx context.Context, cl client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
			c.add("update", kind(obj)+"/"+sub)
			return cl.SubResource(sub).Update(ctx, obj, opts...)
		},
		SubResourcePatch: func(ctx context.Context, cl client.Client, sub string, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
			c.add(patchVerb(patch), kind(obj)+"/"+sub)
			return cl.SubResource(sub).Patch(ctx, obj, patch, opts...)
		},
		SubResourceApply: func(ctx context.Context, cl client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
			c.add("apply", applyKind(obj)+"/"+sub)
			return cl.SubResource(sub).Apply(ctx, obj, opts...)
		},
	})
}

func (c *MutationCounter) add(verb, kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts[verb+" "+kind]++
}

// Mutations is the number of creates, updates, patches (server-side applies and
// subresources included) and deletes counted since the last Reset.
func (c *MutationCounter) Mutations() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for k, v := range c.counts {
		if mutatingVerbs[strings.SplitN(k, " ", 2)[0]] {
			n += v
		}
	}
	return n
}

// Count is the number of requests of one verb and kind, e.g. Count("create", "Job").
func (c *MutationCounter) Count(verb, kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[verb+" "+kind]
}

// Counts returns a copy of every count, keyed "verb Kind".
func (c *MutationCounter) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		out[k] = v
	}
	return out
}

// MutationSummary lists the mutating counts, for test failure messages.
func (c *MutationCounter) MutationSummary() string {
	var parts []string
	for k, v := range c.Counts() {
		if mutatingVerbs[strings.SplitN(k, " ", 2)[0]] {
			parts = append(parts, fmt.Sprintf("%s: %d", k, v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// Reset sets every count to zero.
func (c *MutationCounter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = map[string]int{}
}
