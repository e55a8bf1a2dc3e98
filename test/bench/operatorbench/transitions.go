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

package main

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/types"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// A state change of a Storefront is a condition whose status or reason changed (or that
// appeared) from one stored version to the next; the operator emits one Event for each
// (controllers.emitTransitionEvents). The harness sees every stored version through its
// watch and counts the changes, then counts the operator's Events and compares.

// transitions counts the state changes of each Storefront as the watch reports them.
type transitions struct {
	mu sync.Mutex
	// seen are the conditions of each Storefront's last version, by type.
	seen map[types.NamespacedName]map[string]string
	// changes are the state changes of each Storefront.
	changes map[types.NamespacedName]int
}

// watchTransitions counts the state changes in the Storefronts of c from now on.
func watchTransitions(ctx context.Context, c cache.Cache) (*transitions, error) {
	t := &transitions{seen: map[types.NamespacedName]map[string]string{}, changes: map[types.NamespacedName]int{}}
	inf, err := c.GetInformer(ctx, &shopv1alpha1.Storefront{})
	if err != nil {
		return nil, err
	}
	_, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { t.observe(obj) },
		UpdateFunc: func(_, obj any) { t.observe(obj) },
	})
	return t, err
}

func (t *transitions) observe(obj any) {
	sf, ok := obj.(*shopv1alpha1.Storefront)
	if !ok {
		return
	}
	key := types.NamespacedName{Namespace: sf.Namespace, Name: sf.Name}
	t.mu.Lock()
	defer t.mu.Unlock()
	before := t.seen[key]
	now := map[string]string{}
	for _, c := range sf.Status.Conditions {
		state := string(c.Status) + "/" + c.Reason
		now[c.Type] = state
		if before[c.Type] != state {
			t.changes[key]++
		}
	}
	t.seen[key] = now
}

// count is the state changes of every Storefront.
func (t *transitions) count() map[types.NamespacedName]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[types.NamespacedName]int, len(t.changes))
	for k, v := range t.changes {
		out[k] = v
	}
	return out
}

// transitionNote is the note of a state change's Event: "<type>=<status>: <message>".
var transitionNote = regexp.MustCompile(`^[A-Za-z]+=(True|False|Unknown): `)

// transitionEvents counts the operator's state-change Events of each Storefront: an
// Event object stands for 1 occurrence, or series.count when client-go merged repeats
// of the same Event into a series (tools/events, recordToSink).
func transitionEvents(ctx context.Context, c client.Reader) (map[types.NamespacedName]int, error) {
	list := &eventsv1.EventList{}
	if err := c.List(ctx, list); err != nil {
		return nil, err
	}
	out := map[types.NamespacedName]int{}
	for _, e := range list.Items {
		if e.ReportingController != "storefront-operator" || e.Regarding.Kind != "Storefront" || !transitionNote.MatchString(e.Note) {
			continue
		}
		n := 1
		if e.Series != nil {
			n = int(e.Series.Count)
		}
		out[types.NamespacedName{Namespace: e.Regarding.Namespace, Name: e.Regarding.Name}] += n
	}
	return out, nil
}

// eventCheck compares state changes with Events: it returns their totals and, when they
// differ for some Storefront, a description of the first few.
func eventCheck(changes, events map[types.NamespacedName]int) (nChanges, nEvents int, mismatch string) {
	keys := map[types.NamespacedName]bool{}
	for k, v := range changes {
		keys[k] = true
		nChanges += v
	}
	for k, v := range events {
		keys[k] = true
		nEvents += v
	}
	var bad []string
	for k := range keys {
		if changes[k] != events[k] {
			bad = append(bad, fmt.Sprintf("%s: %d state changes, %d Events", k, changes[k], events[k]))
		}
	}
	sort.Strings(bad)
	if len(bad) > 5 {
		bad = append(bad[:5], fmt.Sprintf("and %d more", len(bad)-5))
	}
	return nChanges, nEvents, strings.Join(bad, "; ")
}
