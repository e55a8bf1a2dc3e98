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
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// The labels and names the operator gives the objects of a Storefront
// (controllers/names.go; docs/architecture.md#what-the-operator-creates). The plugin
// does not import the operator: it reads what the operator publishes.
const (
	labelInstance  = "app.kubernetes.io/instance"
	labelComponent = "app.kubernetes.io/component"
	labelManagedBy = "app.kubernetes.io/managed-by"
	managedBy      = "storefront-operator"
	// componentMigration labels migration Jobs (the Jobs that set up or withdraw a
	// database login are "db-login").
	componentMigration = "migration"
	migrationJobKind   = "Job (" + componentMigration + ")"
	// labelJobName is the label the Job controller puts on a Job's pods.
	labelJobName = "batch.kubernetes.io/job-name"
)

// ackKinds are the ACK kinds a Storefront may own, in the order they are created.
var ackKinds = []schema.GroupVersionKind{
	{Group: "rds.services.k8s.aws", Version: "v1alpha1", Kind: "DBSubnetGroup"},
	{Group: "rds.services.k8s.aws", Version: "v1alpha1", Kind: "DBCluster"},
	{Group: "rds.services.k8s.aws", Version: "v1alpha1", Kind: "DBInstance"},
	{Group: "elasticache.services.k8s.aws", Version: "v1alpha1", Kind: "User"},
	{Group: "elasticache.services.k8s.aws", Version: "v1alpha1", Kind: "UserGroup"},
	{Group: "elasticache.services.k8s.aws", Version: "v1alpha1", Kind: "ServerlessCache"},
	// Product images and the CDN (docs/architecture.md#images-and-the-cdn).
	{Group: "s3.services.k8s.aws", Version: "v1alpha1", Kind: "Bucket"},
	{Group: "acm.services.k8s.aws", Version: "v1alpha1", Kind: "Certificate"},
	{Group: "cloudfront.services.k8s.aws", Version: "v1alpha1", Kind: "OriginAccessControl"},
	{Group: "cloudfront.services.k8s.aws", Version: "v1alpha1", Kind: "CachePolicy"},
	{Group: "cloudfront.services.k8s.aws", Version: "v1alpha1", Kind: "Distribution"},
}

// Report is what `status` prints: the Storefront, the tree of its objects, and what
// blocks readiness first.
type Report struct {
	Namespace  string           `json:"namespace"`
	Name       string           `json:"name"`
	Phase      string           `json:"phase"`
	Generation int64            `json:"generation"`
	Observed   int64            `json:"observedGeneration"`
	URL        string           `json:"url,omitempty"`
	Conditions []ConditionLine  `json:"conditions"`
	Blocking   *Blocker         `json:"blocking,omitempty"`
	Objects    []Node           `json:"objects"`
	Hibernate  *HibernationLine `json:"hibernation,omitempty"`
	Restore    *RestoreLine     `json:"restore,omitempty"`
}

// RestoreLine is status.restore: the last restore from a DB cluster snapshot.
type RestoreLine struct {
	Snapshot             string `json:"snapshot"`
	Cluster              string `json:"cluster"`
	State                string `json:"state"`
	ReplacedCluster      string `json:"replacedCluster,omitempty"`
	ReplacedClusterState string `json:"replacedClusterState,omitempty"`
}

// ConditionLine is one of the Storefront's conditions.
type ConditionLine struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason"`
	Message string `json:"message,omitempty"`
}

// HibernationLine is status.hibernation, for a sleeping shop.
type HibernationLine struct {
	MinReplicas    int32  `json:"minReplicas"`
	MaxReplicas    int32  `json:"maxReplicas"`
	DatabasePaused bool   `json:"databasePaused"`
	StillCosting   string `json:"stillCosting,omitempty"`
}

// Blocker is the first object that keeps the Storefront from being Ready.
type Blocker struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// Node is one object of the tree.
type Node struct {
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	State    string `json:"state"`
	Message  string `json:"message,omitempty"`
	Children []Node `json:"children,omitempty"`
	// ready says the object is where it should be; unready objects are blocker
	// candidates.
	ready bool
}

func (p *plugin) statusCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "status NAME",
		Short: "Show a Storefront's objects and what blocks its readiness",
		Long: `Show the Storefront NAME as a tree: the Storefront, its ACK objects (Aurora,
ElastiCache), its Jobs (the first login and the migrations), its Deployment and the
Deployment's pods, each with its state. The first object that keeps the Storefront from
being Ready is named with its full message.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, _, ns, err := p.clients()
			if err != nil {
				return err
			}
			rep, err := buildReport(cmd.Context(), c, ns, args[0])
			if err != nil {
				return err
			}
			if p.output == "json" {
				enc := json.NewEncoder(p.streams.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			printReport(p.streams.Out, rep)
			return nil
		},
	}
}

// buildReport reads the Storefront and the objects it owns.
func buildReport(ctx context.Context, c client.Client, ns, name string) (*Report, error) {
	sf := &shopv1alpha1.Storefront{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, sf); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("storefront %q not found in namespace %q", name, ns)
		}
		return nil, fmt.Errorf("reading storefront %s/%s: %w", ns, name, err)
	}
	rep := &Report{Namespace: ns, Name: name, Phase: string(sf.Status.Phase), Generation: sf.Generation,
		Observed: sf.Status.ObservedGeneration, URL: sf.Status.URL}
	for _, t := range []string{shopv1alpha1.ConditionDatabaseReady, shopv1alpha1.ConditionCacheReady,
		shopv1alpha1.ConditionSchemaMigrated, shopv1alpha1.ConditionAvailable, shopv1alpha1.ConditionReady} {
		line := ConditionLine{Type: t, Status: string(metav1.ConditionUnknown)}
		if cond := meta.FindStatusCondition(sf.Status.Conditions, t); cond != nil {
			line = ConditionLine{Type: t, Status: string(cond.Status), Reason: cond.Reason, Message: cond.Message}
		}
		rep.Conditions = append(rep.Conditions, line)
	}
	if cond := meta.FindStatusCondition(sf.Status.Conditions, shopv1alpha1.ConditionDatabaseRestored); cond != nil {
		// Only once a restore was asked for.
		rep.Conditions = append(rep.Conditions, ConditionLine{Type: cond.Type, Status: string(cond.Status), Reason: cond.Reason, Message: cond.Message})
	}
	if rs := sf.Status.Restore; rs != nil {
		rep.Restore = &RestoreLine{Snapshot: rs.SnapshotIdentifier, Cluster: rs.ClusterIdentifier, State: rs.State,
			ReplacedCluster: rs.ReplacedCluster, ReplacedClusterState: rs.ReplacedClusterState}
	}
	if h := sf.Status.Hibernation; h != nil {
		rep.Hibernate = &HibernationLine{MinReplicas: h.MinReplicas, MaxReplicas: h.MaxReplicas,
			DatabasePaused: h.DatabasePaused, StillCosting: h.StillCosting}
	}

	ackNodes, err := ackObjects(ctx, c, sf)
	if err != nil {
		return nil, err
	}
	jobNodes, err := jobs(ctx, c, sf)
	if err != nil {
		return nil, err
	}
	deployNode, err := deploymentNode(ctx, c, sf)
	if err != nil {
		return nil, err
	}
	rep.Objects = append(append(ackNodes, jobNodes...), deployNode)
	rep.Blocking = blocker(sf, ackNodes, jobNodes, deployNode)
	return rep, nil
}

// owned reports whether sf controls obj.
func owned(sf *shopv1alpha1.Storefront, obj metav1.Object) bool {
	ref := metav1.GetControllerOf(obj)
	return ref != nil && ref.UID == sf.UID
}

func ownLabels(sf *shopv1alpha1.Storefront) client.MatchingLabels {
	return client.MatchingLabels{labelInstance: sf.Name, labelManagedBy: managedBy}
}

// ackObjects lists the ACK objects the Storefront controls, kind by kind. A kind the
// API server does not serve (ACK not installed) is skipped.
func ackObjects(ctx context.Context, c client.Client, sf *shopv1alpha1.Storefront) ([]Node, error) {
	var nodes []Node
	for _, gvk := range ackKinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := c.List(ctx, list, client.InNamespace(sf.Namespace), ownLabels(sf)); err != nil {
			if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
				continue
			}
			return nil, fmt.Errorf("listing %s: %w", gvk.Kind, err)
		}
		sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].GetName() < list.Items[j].GetName() })
		for i := range list.Items {
			if owned(sf, &list.Items[i]) {
				nodes = append(nodes, ackNode(&list.Items[i]))
			}
		}
	}
	return nodes, nil
}

// ackNode describes an ACK object by its ACK conditions (runtime
// apis/core/v1alpha1/conditions.go) and the AWS resource's own status.
func ackNode(u *unstructured.Unstructured) Node {
	n := Node{Kind: u.GetKind(), Name: u.GetName()}
	own, _, _ := unstructured.NestedString(u.Object, "status", "status")
	if own == "" {
		own, _, _ = unstructured.NestedString(u.Object, "status", "dbInstanceStatus")
	}
	if own == "" && u.GetKind() == "DBSubnetGroup" {
		own, _, _ = unstructured.NestedString(u.Object, "status", "subnetGroupStatus")
	}
	conds := map[string]map[string]any{}
	list, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range list {
		if m, ok := c.(map[string]any); ok {
			if t, _ := m["type"].(string); t != "" {
				conds[t] = m
			}
		}
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	status := "status " + orDash(own)
	switch {
	case conds["ACK.Terminal"] != nil && str(conds["ACK.Terminal"], "status") == "True":
		n.State = "Terminal, " + status
		n.Message = str(conds["ACK.Terminal"], "message")
	case conds["ACK.Recoverable"] != nil && str(conds["ACK.Recoverable"], "status") == "True":
		n.State = "Recoverable, " + status
		n.Message = str(conds["ACK.Recoverable"], "message")
	case conds["ACK.ResourceSynced"] != nil && str(conds["ACK.ResourceSynced"], "status") == "True":
		n.State = "Synced, " + status
		n.ready = own == "" || strings.EqualFold(own, "available") || strings.EqualFold(own, "active") ||
			strings.EqualFold(own, "complete")
	default:
		n.State = "not synced, " + status
		if s := conds["ACK.ResourceSynced"]; s != nil {
			n.Message = str(s, "message")
		}
	}
	return n
}

// jobs lists the Jobs the Storefront controls (the first login and rotations, the
// migrations), oldest first, each with its pods.
func jobs(ctx context.Context, c client.Client, sf *shopv1alpha1.Storefront) ([]Node, error) {
	list := &batchv1.JobList{}
	if err := c.List(ctx, list, client.InNamespace(sf.Namespace), ownLabels(sf)); err != nil {
		return nil, fmt.Errorf("listing jobs: %w", err)
	}
	items := list.Items
	sort.Slice(items, func(i, j int) bool {
		a, b := items[i].CreationTimestamp, items[j].CreationTimestamp
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		return items[i].Name < items[j].Name
	})
	var nodes []Node
	for i := range items {
		j := &items[i]
		if !owned(sf, j) {
			continue
		}
		n := jobNode(j)
		pods, err := podNodes(ctx, c, sf.Namespace, client.MatchingLabels{labelJobName: j.Name})
		if err != nil {
			return nil, err
		}
		n.Children = pods
		nodes = append(nodes, n)
	}
	return nodes, nil
}

func jobNode(j *batchv1.Job) Node {
	n := Node{Kind: "Job (" + j.Labels[labelComponent] + ")", Name: j.Name}
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			n.State, n.ready = "Complete", true
			return n
		case batchv1.JobFailed:
			n.State = "Failed (" + c.Reason + ")"
			n.Message = c.Message
			return n
		}
	}
	switch {
	case j.Spec.Suspend != nil && *j.Spec.Suspend:
		n.State = "Suspended"
	case j.Status.Active > 0:
		n.State = fmt.Sprintf("Running (%d active, %d failed)", j.Status.Active, j.Status.Failed)
	default:
		n.State = "Pending"
	}
	return n
}

// deploymentNode describes the shop's Deployment, <name>-shop, and its pods.
func deploymentNode(ctx context.Context, c client.Client, sf *shopv1alpha1.Storefront) (Node, error) {
	name := sf.Name + "-shop"
	n := Node{Kind: "Deployment", Name: name}
	d := &appsv1.Deployment{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: sf.Namespace, Name: name}, d); err != nil {
		if apierrors.IsNotFound(err) {
			n.State = "not created yet"
			return n, nil
		}
		return n, fmt.Errorf("reading deployment %s: %w", name, err)
	}
	image := "-"
	if cs := d.Spec.Template.Spec.Containers; len(cs) > 0 {
		image = cs[0].Image
	}
	want := int32(0)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	n.State = fmt.Sprintf("%d/%d available, %d updated, image %s", d.Status.AvailableReplicas, want,
		d.Status.UpdatedReplicas, image)
	n.ready = d.Status.ObservedGeneration >= d.Generation && d.Status.AvailableReplicas >= want && want > 0
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse {
			n.Message = c.Reason + ": " + c.Message
		}
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return n, fmt.Errorf("deployment %s has an invalid selector: %w", name, err)
	}
	pods, err := podNodes(ctx, c, sf.Namespace, client.MatchingLabelsSelector{Selector: sel})
	if err != nil {
		return n, err
	}
	n.Children = pods
	return n, nil
}

// podNodes lists the pods matching sel, by name, each with the reason it is not ready.
func podNodes(ctx context.Context, c client.Client, ns string, sel client.ListOption) ([]Node, error) {
	list := &corev1.PodList{}
	if err := c.List(ctx, list, client.InNamespace(ns), sel); err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	var nodes []Node
	for i := range list.Items {
		nodes = append(nodes, podNode(&list.Items[i]))
	}
	return nodes, nil
}

func podNode(p *corev1.Pod) Node {
	n := Node{Kind: "Pod", Name: p.Name, State: string(p.Status.Phase)}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue {
			n.State += ", ready"
			n.ready = true
		}
	}
	for _, cs := range p.Status.ContainerStatuses {
		switch {
		case cs.State.Waiting != nil && cs.State.Waiting.Reason != "":
			n.State += ", " + cs.State.Waiting.Reason
			n.Message = cs.State.Waiting.Message
		case cs.State.Terminated != nil && cs.State.Terminated.ExitCode != 0:
			n.State += fmt.Sprintf(", exited %d (%s)", cs.State.Terminated.ExitCode, cs.State.Terminated.Reason)
			n.Message = cs.State.Terminated.Message
		}
		if cs.RestartCount > 0 {
			n.State += fmt.Sprintf(", %d restarts", cs.RestartCount)
		}
	}
	if p.Status.Phase == corev1.PodSucceeded {
		n.ready = true
	}
	return n
}

// blocker names the first object that keeps the Storefront from being Ready: the
// conditions are read in the order they gate each other, and each is pinned on the
// object it is about, with the condition's message (which carries the cause) and the
// object's own message when it says more.
func blocker(sf *shopv1alpha1.Storefront, ackNodes, jobNodes []Node, deploy Node) *Blocker {
	self := func(msg string) *Blocker { return &Blocker{Kind: "Storefront", Name: sf.Name, Message: msg} }
	if !sf.DeletionTimestamp.IsZero() {
		return self("being deleted: the operator's finalizer removes its objects in order")
	}
	if sf.Spec.Paused {
		return self("spec.paused is true: the operator changes nothing until it is false")
	}
	if sf.Spec.Hibernate {
		return self("spec.hibernate is true: the shop sleeps on purpose; `kubectl storefront wake " + sf.Name + "` wakes it")
	}
	if sf.Status.ObservedGeneration < sf.Generation {
		return self(fmt.Sprintf("the operator has not reconciled generation %d yet (status is for %d)",
			sf.Generation, sf.Status.ObservedGeneration))
	}
	rdsKinds := map[string]bool{"DBSubnetGroup": true, "DBCluster": true, "DBInstance": true}
	for _, t := range []string{shopv1alpha1.ConditionDatabaseReady, shopv1alpha1.ConditionCacheReady,
		shopv1alpha1.ConditionSchemaMigrated, shopv1alpha1.ConditionAvailable, shopv1alpha1.ConditionReady} {
		c := meta.FindStatusCondition(sf.Status.Conditions, t)
		if c == nil {
			return self(t + " is not reported yet: the operator has not reconciled this Storefront")
		}
		if c.Status == metav1.ConditionTrue && (t != shopv1alpha1.ConditionAvailable || c.Reason == shopv1alpha1.ReasonDeploymentAvailable) {
			continue
		}
		msg := fmt.Sprintf("%s=%s (%s): %s", c.Type, c.Status, c.Reason, c.Message)
		var candidates []Node
		switch t {
		case shopv1alpha1.ConditionDatabaseReady:
			for _, n := range ackNodes {
				if rdsKinds[n.Kind] {
					candidates = append(candidates, n)
				}
			}
			for _, n := range jobNodes {
				if n.Kind != migrationJobKind {
					candidates = append(candidates, n)
				}
			}
		case shopv1alpha1.ConditionCacheReady:
			for _, n := range ackNodes {
				if !rdsKinds[n.Kind] {
					candidates = append(candidates, n)
				}
			}
		case shopv1alpha1.ConditionSchemaMigrated:
			for _, n := range jobNodes {
				if n.Kind == migrationJobKind {
					candidates = append(candidates, n)
				}
			}
			// The migration of spec.image is the newest Job: look at it first.
			for i, j := 0, len(candidates)-1; i < j; i, j = i+1, j-1 {
				candidates[i], candidates[j] = candidates[j], candidates[i]
			}
		case shopv1alpha1.ConditionAvailable:
			candidates = []Node{deploy}
		}
		for _, n := range candidates {
			if !n.ready {
				return &Blocker{Kind: n.Kind, Name: n.Name, Message: explain(msg, n)}
			}
		}
		return self(msg)
	}
	return nil
}

// explain is the condition's message, then what n says that it does not (ACK's
// message, the Job's failure), then the first of n's pods that says why it fails (the
// kubelet's message, a container's termination message).
func explain(cond string, n Node) string {
	msg := cond
	if n.Message != "" && !strings.Contains(msg, n.Message) {
		msg += "; " + n.Kind + " " + n.Name + ": " + n.Message
	}
	for _, ch := range n.Children {
		if !ch.ready && ch.Message != "" && !strings.Contains(msg, ch.Message) {
			return msg + "; " + ch.Kind + " " + ch.Name + ": " + ch.State + ": " + ch.Message
		}
	}
	return msg
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printReport writes the report as text: a header, the blocker, the tree and the
// conditions.
func printReport(w io.Writer, r *Report) {
	fmt.Fprintf(w, "Storefront %s/%s: phase %s (generation %d, observed %d)\n", r.Namespace, r.Name,
		orDash(r.Phase), r.Generation, r.Observed)
	if r.URL != "" {
		fmt.Fprintf(w, "URL: %s\n", r.URL)
	}
	if r.Blocking != nil {
		fmt.Fprintf(w, "Blocking: %s %s: %s\n", r.Blocking.Kind, r.Blocking.Name, r.Blocking.Message)
	} else {
		fmt.Fprintln(w, "Blocking: nothing, the shop is Ready")
	}
	if h := r.Hibernate; h != nil {
		fmt.Fprintf(w, "Hibernation: replicas %d-%d to restore, database paused: %t", h.MinReplicas, h.MaxReplicas, h.DatabasePaused)
		if h.StillCosting != "" {
			fmt.Fprintf(w, ", still costing: %s", h.StillCosting)
		}
		fmt.Fprintln(w)
	}
	if rs := r.Restore; rs != nil {
		fmt.Fprintf(w, "Restore: snapshot %s into DB cluster %s: %s", rs.Snapshot, rs.Cluster, rs.State)
		if rs.ReplacedCluster != "" {
			fmt.Fprintf(w, " (replacing %s", rs.ReplacedCluster)
			if rs.ReplacedClusterState != "" {
				fmt.Fprintf(w, ": %s", strings.ToLower(rs.ReplacedClusterState))
			}
			fmt.Fprint(w, ")")
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nStorefront %s\n", r.Name)
	printNodes(w, r.Objects, "")
	fmt.Fprintln(w, "\nConditions:")
	width := 15 // the usual types; a longer one (DatabaseRestored) widens the column
	for _, c := range r.Conditions {
		width = max(width, len(c.Type))
	}
	for _, c := range r.Conditions {
		fmt.Fprintf(w, "  %-*s %-7s %s", width, c.Type, c.Status, c.Reason)
		if c.Message != "" {
			fmt.Fprintf(w, ": %s", c.Message)
		}
		fmt.Fprintln(w)
	}
}

func printNodes(w io.Writer, nodes []Node, indent string) {
	for i, n := range nodes {
		branch, next := "├── ", "│   "
		if i == len(nodes)-1 {
			branch, next = "└── ", "    "
		}
		fmt.Fprintf(w, "%s%s%s %s: %s\n", indent, branch, n.Kind, n.Name, n.State)
		if n.Message != "" {
			fmt.Fprintf(w, "%s%s    %s\n", indent, next, n.Message)
		}
		printNodes(w, n.Children, indent+next)
	}
}
