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
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
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
	// steps are each Storefront's state changes in order: per stored version that
	// changed something, the states entered ("Type=Status/Reason"), sorted.
	steps map[types.NamespacedName][][]string
}

// watchTransitions counts the state changes in the Storefronts of c from now on.
func watchTransitions(ctx context.Context, c cache.Cache) (*transitions, error) {
	t := &transitions{seen: map[types.NamespacedName]map[string]string{}, steps: map[types.NamespacedName][][]string{}}
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
	var changed []string
	for _, c := range sf.Status.Conditions {
		state := string(c.Status) + "/" + c.Reason
		now[c.Type] = state
		if before[c.Type] != state {
			changed = append(changed, c.Type+"="+state)
		}
	}
	t.seen[key] = now
	if len(changed) > 0 {
		sort.Strings(changed)
		t.steps[key] = append(t.steps[key], changed)
	}
}

// commonPaths are the n most frequent sequences of state changes, each with the number
// of Storefronts that took it: what the conditions say on the way to Ready.
func (t *transitions) commonPaths(n int) []pathCount {
	t.mu.Lock()
	defer t.mu.Unlock()
	counts := map[string]int{}
	for _, steps := range t.steps {
		joined := make([]string, len(steps))
		for i, step := range steps {
			joined[i] = strings.Join(step, ", ")
		}
		counts[strings.Join(joined, " → ")]++
	}
	out := make([]pathCount, 0, len(counts))
	for p, c := range counts {
		out = append(out, pathCount{path: p, storefronts: c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].storefronts != out[j].storefronts {
			return out[i].storefronts > out[j].storefronts
		}
		return out[i].path < out[j].path
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// pathCount is one sequence of state changes and how many Storefronts took it.
type pathCount struct {
	path        string
	storefronts int
}

// count is the state changes of every Storefront, by the state entered.
func (t *transitions) count() map[types.NamespacedName]map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[types.NamespacedName]map[string]int, len(t.steps))
	for k, steps := range t.steps {
		out[k] = map[string]int{}
		for _, step := range steps {
			for _, state := range step {
				out[k][state]++
			}
		}
	}
	return out
}

// transitionNote is the note of a state change's Event: "<type>=<status>: <message>".
var transitionNote = regexp.MustCompile(`^([A-Za-z]+=(?:True|False|Unknown)): `)

// transitionEvents counts the operator's state-change Events of each Storefront by the
// state they report ("Type=Status/Reason", from the note and the reason): an Event
// object stands for 1 occurrence, or series.count when client-go merged repeats of the
// same Event into a series (tools/events, recordToSink; a series keeps its first note,
// so an Event of another state folded into it would show as a missing state here).
// The operator's other Events are counted in others, and its Warning Events (state
// changes included) in warnings, both by "type kind reason".
func transitionEvents(ctx context.Context, c client.Reader) (byStorefront map[types.NamespacedName]map[string]int, others, warnings map[string]int, err error) {
	list := &eventsv1.EventList{}
	if err := c.List(ctx, list); err != nil {
		return nil, nil, nil, err
	}
	byStorefront = map[types.NamespacedName]map[string]int{}
	others, warnings = map[string]int{}, map[string]int{}
	for _, e := range list.Items {
		if e.ReportingController != "storefront-operator" {
			continue
		}
		n := 1
		if e.Series != nil {
			n = int(e.Series.Count)
		}
		what := e.Type + " " + e.Regarding.Kind + " " + e.Reason
		if e.Type == corev1.EventTypeWarning {
			warnings[what] += n
		}
		m := transitionNote.FindStringSubmatch(e.Note)
		if e.Regarding.Kind != "Storefront" || m == nil {
			others[what] += n
			continue
		}
		key := types.NamespacedName{Namespace: e.Regarding.Namespace, Name: e.Regarding.Name}
		if byStorefront[key] == nil {
			byStorefront[key] = map[string]int{}
		}
		byStorefront[key][m[1]+"/"+e.Reason] += n
	}
	return byStorefront, others, warnings, nil
}

// eventCheck compares state changes with Events, state by state: it returns their
// totals and, where they differ for some Storefront, a description of the first few.
func eventCheck(changes, events map[types.NamespacedName]map[string]int) (nChanges, nEvents int, mismatch string) {
	keys := map[types.NamespacedName]bool{}
	for k, states := range changes {
		keys[k] = true
		for _, n := range states {
			nChanges += n
		}
	}
	for k, states := range events {
		keys[k] = true
		for _, n := range states {
			nEvents += n
		}
	}
	var bad []string
	for k := range keys {
		states := map[string]bool{}
		for st := range changes[k] {
			states[st] = true
		}
		for st := range events[k] {
			states[st] = true
		}
		for st := range states {
			if changes[k][st] != events[k][st] {
				bad = append(bad, fmt.Sprintf("%s %s: %d state changes, %d Events", k, st, changes[k][st], events[k][st]))
			}
		}
	}
	sort.Strings(bad)
	if len(bad) > 5 {
		bad = append(bad[:5], fmt.Sprintf("and %d more", len(bad)-5))
	}
	return nChanges, nEvents, strings.Join(bad, "; ")
}

// describeCounts is counts as "key n, key n" in key order, or "none".
func describeCounts(counts map[string]int) string {
	if len(counts) == 0 {
		return "none"
	}
	keys := slices.Sorted(maps.Keys(counts))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}
