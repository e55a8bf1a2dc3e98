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
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// now is the clock the annotation values come from; tests replace it.
var now = func() time.Time { return time.Now().UTC() }

// getStorefront reads the Storefront, with a message that names it when it is missing.
func getStorefront(ctx context.Context, c client.Client, ns, name string) (*shopv1alpha1.Storefront, error) {
	sf := &shopv1alpha1.Storefront{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, sf); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("storefront %q not found in namespace %q", name, ns)
		}
		return nil, fmt.Errorf("reading storefront %s/%s: %w", ns, name, err)
	}
	return sf, nil
}

// change reads the Storefront, lets edit change it, and sends the difference as a
// merge patch with the resourceVersion it read: a concurrent change (the operator's
// status writes, mostly) is never overwritten; the command reads again and edit decides
// again. edit may refuse with an error. A destructive change (d set) is confirmed once,
// after edit accepted it and before the first patch.
func (p *plugin) change(cmd *cobra.Command, name string, edit func(*shopv1alpha1.Storefront) (string, error), d *destructive) error {
	c, _, ns, err := p.clients()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	var sf *shopv1alpha1.Storefront
	var done string
	confirmed := false
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var err error
		if sf, err = getStorefront(ctx, c, ns, name); err != nil {
			return err
		}
		before := sf.DeepCopy()
		patch := client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
		if done, err = edit(sf); err != nil {
			return err
		}
		if d != nil && !confirmed {
			if q := d.ask(before, sf); q != nil {
				if err := p.confirm(d.yes, q); err != nil {
					return err
				}
				confirmed = true
			}
		}
		if err := c.Patch(ctx, sf, patch); err != nil {
			return fmt.Errorf("patching storefront %s/%s: %w", ns, name, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if p.output == "json" {
		enc := json.NewEncoder(p.streams.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(sf)
	}
	fmt.Fprintf(p.streams.Out, "storefront %s/%s: %s\n", ns, name, done)
	return nil
}

// destructive is a command whose change loses something (data, or the shop's
// availability): it asks before it patches, unless --yes.
type destructive struct {
	yes bool
	// ask says what the change from before to after loses, or nil when there is nothing
	// to ask (the change is none).
	ask func(before, after *shopv1alpha1.Storefront) *question
}

// addYesFlag adds --yes/-y to a destructive command.
func (d *destructive) addYesFlag(cmd *cobra.Command) {
	cmd.Flags().BoolVarP(&d.yes, "yes", "y", false, "do it without asking for confirmation (required when stdin is not a terminal)")
}

// question is what a destructive command asks: what it does, what that loses, and
// warnings printed even with --yes.
type question struct {
	action       string   // "restore storefront shops/acme from snapshot s1"
	consequences []string // one line each
	warnings     []string
}

// stdinIsTerminal says whether the command can ask on in; tests replace it.
var stdinIsTerminal = func(in io.Reader) bool {
	f, ok := in.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// confirm prints q's warnings, then, unless yes, asks on the terminal and returns an
// error unless the answer is y or yes. Without a terminal it refuses rather than read
// an answer from a pipe or a script: a destructive change there must say --yes.
func (p *plugin) confirm(yes bool, q *question) error {
	for _, w := range q.warnings {
		fmt.Fprintln(p.streams.ErrOut, "Warning:", w)
	}
	if yes {
		return nil
	}
	if !stdinIsTerminal(p.streams.In) {
		return fmt.Errorf("%s needs confirmation, and stdin is not a terminal to ask on: run it again with --yes (-y) to go ahead without asking", q.action)
	}
	fmt.Fprintf(p.streams.ErrOut, "About to %s:\n", q.action)
	for _, c := range q.consequences {
		fmt.Fprintln(p.streams.ErrOut, "  -", c)
	}
	fmt.Fprint(p.streams.ErrOut, "Continue? [y/N]: ")
	answer, err := bufio.NewReader(p.streams.In).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(answer)) {
	case "y", "yes":
		return nil
	}
	return fmt.Errorf("cancelled: did not %s", q.action)
}

// stamp is a new value for an annotation the operator acts on when it changes.
func stamp() string { return now().Format(time.RFC3339Nano) }

func (p *plugin) retryMigrationCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "retry-migration NAME",
		Short: "Re-run the failed migration of the Storefront's image",
		Long: `Re-run the failed migration of spec.image: sets the annotation
` + shopv1alpha1.AnnotationRetryMigration + ` to a new value. Refused when no migration failed
(status.failedImage is empty).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return p.change(cmd, args[0], func(sf *shopv1alpha1.Storefront) (string, error) {
				if sf.Status.FailedImage == "" {
					return "", fmt.Errorf("storefront %s has no failed migration to retry (status.failedImage is empty)", sf.Name)
				}
				v := stamp()
				setAnnotation(sf, shopv1alpha1.AnnotationRetryMigration, v)
				return fmt.Sprintf("migration of %s will be retried (%s=%s)", sf.Status.FailedImage,
					shopv1alpha1.AnnotationRetryMigration, v), nil
			}, nil)
		},
	}
}

// passwordAnnotations are the rotations rotate-password can ask for.
var passwordAnnotations = map[string]string{
	"db":     shopv1alpha1.AnnotationRotateDBPassword,
	"master": shopv1alpha1.AnnotationRotateMasterPassword,
	"cache":  shopv1alpha1.AnnotationRotateCachePassword,
}

func (p *plugin) rotatePasswordCommand() *cobra.Command {
	which := "db"
	cmd := &cobra.Command{
		Use:   "rotate-password NAME",
		Short: "Rotate a password of the Storefront",
		Long: `Rotate a password: sets one of the rotation annotations to a new value, and the
operator rotates without a refused request.
  --which=db      ` + shopv1alpha1.AnnotationRotateDBPassword + ` (the shop's database login; Aurora)
  --which=master  ` + shopv1alpha1.AnnotationRotateMasterPassword + ` (the Aurora master password)
  --which=cache   ` + shopv1alpha1.AnnotationRotateCachePassword + ` (the ElastiCache user)`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			key, ok := passwordAnnotations[which]
			if !ok {
				return fmt.Errorf("--which=%q: use db, master or cache", which)
			}
			return p.change(cmd, args[0], func(sf *shopv1alpha1.Storefront) (string, error) {
				switch {
				case which != "cache" && sf.Spec.Database.Aurora == nil:
					return "", fmt.Errorf("storefront %s uses an external database: its password is the one in its URL Secret, which the operator does not rotate", sf.Name)
				case which == "cache" && (sf.Spec.Cache == nil || sf.Spec.Cache.Serverless == nil):
					return "", fmt.Errorf("storefront %s has no ElastiCache Serverless cache whose user the operator could rotate", sf.Name)
				}
				v := stamp()
				setAnnotation(sf, key, v)
				return fmt.Sprintf("%s password rotation requested (%s=%s)", which, key, v), nil
			}, nil)
		},
	}
	cmd.Flags().StringVar(&which, "which", which, "the password to rotate: db, master or cache")
	return cmd
}

func (p *plugin) hibernateCommand(hibernate bool) *cobra.Command {
	use, short, done := "hibernate NAME", "Put the shop to sleep (spec.hibernate: true)", "hibernating (spec.hibernate: true)"
	if !hibernate {
		use, short, done = "wake NAME", "Wake a sleeping shop (spec.hibernate: false)", "waking (spec.hibernate: false)"
	}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(1),
	}
	// Waking loses nothing; putting the shop to sleep takes it offline.
	var d *destructive
	if hibernate {
		cmd.Long = `Put the shop to sleep: sets spec.hibernate to true. The shop goes offline: its pods
stop and the Ingress answers every path with the 503 "This shop is sleeping" page until
the shop is woken (kubectl storefront wake NAME). Asks for confirmation on a terminal;
--yes skips the question, and is required when stdin is not a terminal.`
		d = &destructive{ask: hibernateQuestion}
		d.addYesFlag(cmd)
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		return p.change(cmd, args[0], func(sf *shopv1alpha1.Storefront) (string, error) {
			if sf.Spec.Hibernate == hibernate {
				return "unchanged: spec.hibernate is already " + fmt.Sprint(hibernate), nil
			}
			sf.Spec.Hibernate = hibernate
			return done, nil
		}, d)
	}
	return cmd
}

// hibernateQuestion is what hibernate asks before it takes a serving shop offline.
func hibernateQuestion(before, after *shopv1alpha1.Storefront) *question {
	if before.Spec.Hibernate || !after.Spec.Hibernate {
		return nil
	}
	return &question{
		action: fmt.Sprintf("hibernate storefront %s/%s", after.Namespace, after.Name),
		consequences: []string{
			"the shop goes offline: its pods stop, and every page answers 503 \"This shop is sleeping\"",
			fmt.Sprintf("it stays offline until kubectl storefront wake %s", after.Name),
		},
	}
}

func (p *plugin) snapshotCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "snapshot NAME",
		Short: "Take an on-demand snapshot of the Storefront's Aurora database",
		Long: `Take an on-demand DB cluster snapshot: sets the annotation
` + shopv1alpha1.AnnotationSnapshot + ` to a new value; the operator creates the ACK
DBClusterSnapshot and records it in status.snapshots like the pre-migration ones.
Refused for an external database.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return p.change(cmd, args[0], func(sf *shopv1alpha1.Storefront) (string, error) {
				if sf.Spec.Database.Aurora == nil {
					return "", fmt.Errorf("storefront %s uses an external database: the operator takes no snapshot of it", sf.Name)
				}
				v := stamp()
				setAnnotation(sf, shopv1alpha1.AnnotationSnapshot, v)
				return fmt.Sprintf("snapshot requested (%s=%s); see status.snapshots", shopv1alpha1.AnnotationSnapshot, v), nil
			}, nil)
		},
	}
}

func (p *plugin) restoreCommand() *cobra.Command {
	d := &destructive{ask: restoreQuestion}
	cmd := &cobra.Command{
		Use:   "restore NAME SNAPSHOT",
		Short: "Restore the Storefront's Aurora database from a DB cluster snapshot",
		Long: `Restore the database from a DB cluster snapshot: sets
spec.database.aurora.restoreFrom.snapshotIdentifier. The operator creates a new DB
cluster from the snapshot, sets its master password, runs the migrations of spec.image
on it and moves the shop to it (condition DatabaseRestored; status.restore): orders and
other writes made since the snapshot are not in the database the shop then serves from.
The replaced cluster follows deletionPolicy (Retain keeps it; Snapshot and Delete delete
it after a final snapshot). status.snapshots lists the snapshots the operator took; a
snapshot not listed there (a final snapshot of a replaced cluster or of an earlier
Storefront of the same name, say) is warned about, not refused. Refused for an external
database and while a restore runs, its clean-up included (the operator would only take
the new value once it ended). Asks for confirmation on a terminal; --yes skips the
question, and is required when stdin is not a terminal.`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			snapshot := args[1]
			return p.change(cmd, args[0], func(sf *shopv1alpha1.Storefront) (string, error) {
				a := sf.Spec.Database.Aurora
				if a == nil {
					return "", fmt.Errorf("storefront %s uses an external database: the operator restores only Aurora databases", sf.Name)
				}
				if err := restoreRunning(sf); err != nil {
					return "", err
				}
				if a.RestoreFrom != nil && a.RestoreFrom.SnapshotIdentifier == snapshot {
					return "", fmt.Errorf("storefront %s was already restored from snapshot %s (spec.database.aurora.restoreFrom); the same value restores nothing", sf.Name, snapshot)
				}
				a.RestoreFrom = &shopv1alpha1.RestoreSource{SnapshotIdentifier: snapshot}
				return fmt.Sprintf("restore from snapshot %s requested (spec.database.aurora.restoreFrom); see the condition DatabaseRestored", snapshot), nil
			}, d)
		},
	}
	d.addYesFlag(cmd)
	return cmd
}

// restoreQuestion is what restore asks before it moves the shop to a database restored
// from a snapshot, with a warning when the snapshot is not one status.snapshots lists
// as available.
func restoreQuestion(_, after *shopv1alpha1.Storefront) *question {
	a := after.Spec.Database.Aurora
	snapshot := a.RestoreFrom.SnapshotIdentifier
	current := "the current DB cluster"
	if db := after.Status.Database; db != nil && db.ClusterIdentifier != "" {
		current = "the current DB cluster " + db.ClusterIdentifier
	}
	replaced := current + " is deleted after a final snapshot (deletionPolicy " + string(orSnapshot(a.DeletionPolicy)) + ")"
	if a.DeletionPolicy == shopv1alpha1.DeletionPolicyRetain {
		replaced = current + " is kept in AWS, no longer managed by the operator (deletionPolicy Retain)"
	}
	q := &question{
		action: fmt.Sprintf("restore storefront %s/%s from snapshot %s", after.Namespace, after.Name, snapshot),
		consequences: []string{
			"the shop moves to a new DB cluster created from the snapshot: orders and other writes made since the snapshot was taken are not in it",
			"once the shop has moved, " + replaced,
		},
	}
	i := slices.IndexFunc(after.Status.Snapshots, func(s shopv1alpha1.SnapshotStatus) bool { return s.Identifier == snapshot })
	switch {
	case i < 0:
		q.warnings = append(q.warnings, fmt.Sprintf("snapshot %s is not in status.snapshots of storefront %s (the operator's last pre-migration and on-demand snapshots): "+
			"a final snapshot of a replaced cluster or of an earlier Storefront of the same name is not listed there; "+
			"if RDS does not know it, the restore fails (DatabaseRestored=False, RestoreFailed) and the shop stays on its database", snapshot, after.Name))
	case after.Status.Snapshots[i].State != "available":
		q.warnings = append(q.warnings, fmt.Sprintf("snapshot %s is %s in status.snapshots, not available: RDS restores only an available snapshot",
			snapshot, orPending(after.Status.Snapshots[i].State)))
	}
	return q
}

// orSnapshot is a deletionPolicy as the operator applies it: Snapshot when unset.
func orSnapshot(p shopv1alpha1.DeletionPolicy) shopv1alpha1.DeletionPolicy {
	if p == "" {
		return shopv1alpha1.DeletionPolicySnapshot
	}
	return p
}

// restoreRunning refuses a new restore while the last one has not ended
// (RestoreStatus.InProgress, which the operator waits for too), saying what it waits on.
func restoreRunning(sf *shopv1alpha1.Storefront) error {
	rs := sf.Status.Restore
	if !rs.InProgress() {
		return nil
	}
	switch rs.State {
	case shopv1alpha1.ReasonRestored:
		return fmt.Errorf("storefront %s restored snapshot %s, and the DB cluster %s it replaced is not yet released or deleted (%s); wait until it is",
			sf.Name, rs.SnapshotIdentifier, rs.ReplacedCluster, orPending(rs.ReplacedClusterState))
	case shopv1alpha1.ReasonRestoreFailed:
		return fmt.Errorf("storefront %s failed to restore snapshot %s, and the DB cluster %s of that restore is still being deleted; wait until it is",
			sf.Name, rs.SnapshotIdentifier, rs.ClusterIdentifier)
	}
	return fmt.Errorf("storefront %s is restoring snapshot %s (%s); wait until it ends", sf.Name, rs.SnapshotIdentifier, rs.State)
}

func orPending(state string) string {
	if state == "" {
		return "pending"
	}
	return state
}

func setAnnotation(sf *shopv1alpha1.Storefront, key, value string) {
	if sf.Annotations == nil {
		sf.Annotations = map[string]string{}
	}
	sf.Annotations[key] = value
}

func (p *plugin) logsCommand() *cobra.Command {
	var migration bool
	cmd := &cobra.Command{
		Use:   "logs NAME --migration",
		Short: "Print the log of the Storefront's last migration pod",
		Long: `Print the log of the last pod of the Storefront's newest migration Job (the Job of
the image last migrated or migrating). For the shop's own logs use
kubectl logs deployment/NAME-shop.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !migration {
				return fmt.Errorf("only --migration is supported; for the shop's logs run kubectl logs deployment/%s-shop", args[0])
			}
			c, cs, ns, err := p.clients()
			if err != nil {
				return err
			}
			sf, err := getStorefront(cmd.Context(), c, ns, args[0])
			if err != nil {
				return err
			}
			pod, err := lastMigrationPod(cmd.Context(), c, sf)
			if err != nil {
				return err
			}
			return podLog(cmd.Context(), cs, pod, p.streams.Out)
		},
	}
	cmd.Flags().BoolVar(&migration, "migration", false, "the last migration pod's log")
	return cmd
}

// lastMigrationPod is the newest pod of the Storefront's newest migration Job.
func lastMigrationPod(ctx context.Context, c client.Client, sf *shopv1alpha1.Storefront) (*corev1.Pod, error) {
	jobs := &batchv1.JobList{}
	if err := c.List(ctx, jobs, client.InNamespace(sf.Namespace), ownLabels(sf),
		client.MatchingLabels{labelComponent: componentMigration}); err != nil {
		return nil, fmt.Errorf("listing migration jobs: %w", err)
	}
	var mine []batchv1.Job
	for _, j := range jobs.Items {
		if owned(sf, &j) {
			mine = append(mine, j)
		}
	}
	if len(mine) == 0 {
		return nil, fmt.Errorf("storefront %s has no migration Job (a finished Job is deleted 24 hours after it ends)", sf.Name)
	}
	sort.Slice(mine, func(i, j int) bool {
		a, b := mine[i].CreationTimestamp, mine[j].CreationTimestamp
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		return mine[i].Name < mine[j].Name
	})
	job := mine[len(mine)-1]
	pods := &corev1.PodList{}
	if err := c.List(ctx, pods, client.InNamespace(sf.Namespace), client.MatchingLabels{labelJobName: job.Name}); err != nil {
		return nil, fmt.Errorf("listing the pods of job %s: %w", job.Name, err)
	}
	if len(pods.Items) == 0 {
		return nil, fmt.Errorf("migration job %s has no pod (yet, or any more)", job.Name)
	}
	sort.Slice(pods.Items, func(i, j int) bool {
		a, b := pods.Items[i].CreationTimestamp, pods.Items[j].CreationTimestamp
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		return pods.Items[i].Name < pods.Items[j].Name
	})
	return &pods.Items[len(pods.Items)-1], nil
}

// podLog copies the log of the pod's first container to w.
func podLog(ctx context.Context, cs kubernetes.Interface, pod *corev1.Pod, w io.Writer) error {
	opts := &corev1.PodLogOptions{}
	if len(pod.Spec.Containers) > 0 {
		opts.Container = pod.Spec.Containers[0].Name
	}
	rc, err := cs.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, opts).Stream(ctx)
	if err != nil {
		return fmt.Errorf("reading the log of pod %s: %w", pod.Name, err)
	}
	defer func() { _ = rc.Close() }()
	if _, err := io.Copy(w, rc); err != nil {
		return fmt.Errorf("reading the log of pod %s: %w", pod.Name, err)
	}
	return nil
}
