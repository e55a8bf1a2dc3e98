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
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

// The plugin refuses a new restore exactly while the operator would make it wait
// (RestoreStatus.InProgress), and says what it waits on.
func TestRestoreRunning(t *testing.T) {
	done := metav1.Now()
	for _, tc := range []struct {
		name string
		rs   *shopv1alpha1.RestoreStatus
		want string
	}{
		{"no restore yet", nil, ""},
		{"restoring", &shopv1alpha1.RestoreStatus{SnapshotIdentifier: "s1", State: shopv1alpha1.ReasonRestoring},
			"storefront acme is restoring snapshot s1 (Restoring); wait until it ends"},
		{"restored, the replaced cluster not yet disposed of",
			&shopv1alpha1.RestoreStatus{SnapshotIdentifier: "s1", State: shopv1alpha1.ReasonRestored, ReplacedCluster: "sf-a"},
			"storefront acme restored snapshot s1, and the DB cluster sf-a it replaced is not yet released or deleted (pending); wait until it is"},
		{"restored, the replaced cluster deleting",
			&shopv1alpha1.RestoreStatus{SnapshotIdentifier: "s1", State: shopv1alpha1.ReasonRestored, ReplacedCluster: "sf-a", ReplacedClusterState: shopv1alpha1.ReplacedClusterDeleting},
			"storefront acme restored snapshot s1, and the DB cluster sf-a it replaced is not yet released or deleted (Deleting); wait until it is"},
		{"restored, the replaced cluster deleted",
			&shopv1alpha1.RestoreStatus{SnapshotIdentifier: "s1", State: shopv1alpha1.ReasonRestored, ReplacedCluster: "sf-a", ReplacedClusterState: shopv1alpha1.ReplacedClusterDeleted}, ""},
		{"restored, the replaced cluster retained",
			&shopv1alpha1.RestoreStatus{SnapshotIdentifier: "s1", State: shopv1alpha1.ReasonRestored, ReplacedCluster: "sf-a", ReplacedClusterState: shopv1alpha1.ReplacedClusterRetained}, ""},
		{"failed, its cluster being deleted",
			&shopv1alpha1.RestoreStatus{SnapshotIdentifier: "s1", ClusterIdentifier: "sf-a-r1", State: shopv1alpha1.ReasonRestoreFailed},
			"storefront acme failed to restore snapshot s1, and the DB cluster sf-a-r1 of that restore is still being deleted; wait until it is"},
		{"failed, its cluster gone",
			&shopv1alpha1.RestoreStatus{SnapshotIdentifier: "s1", ClusterIdentifier: "sf-a-r1", State: shopv1alpha1.ReasonRestoreFailed, CompletionTime: &done}, ""},
	} {
		sf := &shopv1alpha1.Storefront{ObjectMeta: metav1.ObjectMeta{Name: "acme"}}
		sf.Status.Restore = tc.rs
		got := ""
		if err := restoreRunning(sf); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

// The commands that lose something ask first: hibernate (the shop goes offline) and
// restore (the shop moves to the snapshot's data). On a terminal they ask, and only y or
// yes goes ahead; without a terminal they refuse unless --yes; a snapshot the Storefront
// does not list as available is warned about, never refused. Waking asks nothing.
func TestDestructiveCommandsConfirm(t *testing.T) {
	ns := newNamespace(t, "plugin-confirm")
	g := NewWithT(t)
	ctx := context.Background()
	shop := auroraShop(ns)
	g.Expect(k8sClient.Create(ctx, shop)).To(Succeed())
	taken := metav1.NewTime(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
	shop.Status.Database = &shopv1alpha1.EndpointStatus{ClusterIdentifier: "sf-plugin-confirm-acme-1a2b3c4d"}
	shop.Status.Snapshots = []shopv1alpha1.SnapshotStatus{
		{Identifier: "sf-plugin-confirm-acme-1a2b3c4d-manual-0f0f0f0f-1", Time: taken, State: "available"},
		{Identifier: "sf-plugin-confirm-acme-1a2b3c4d-manual-0f0f0f0f-2", Time: taken, State: "creating"},
	}
	g.Expect(k8sClient.Status().Update(ctx, shop)).To(Succeed())
	listed := shop.Status.Snapshots[0].Identifier
	action := func(verb string) string { return verb + " storefront " + ns + "/acme" }
	refusal := func(action string) string {
		return action + " needs confirmation, and stdin is not a terminal to ask on: run it again with --yes (-y) to go ahead without asking"
	}
	restoreQuestion := "About to " + action("restore") + " from snapshot " + listed + ":\n" +
		"  - the shop moves to a new DB cluster created from the snapshot: orders and other writes made since the snapshot was taken are not in it\n" +
		"  - once the shop has moved, the current DB cluster sf-plugin-confirm-acme-1a2b3c4d is deleted after a final snapshot (deletionPolicy Delete)\n" +
		"Continue? [y/N]: "

	for _, tc := range []struct {
		name       string
		hibernated bool                        // spec.hibernate before the command
		restored   string                      // spec.database.aurora.restoreFrom before
		policy     shopv1alpha1.DeletionPolicy // deletionPolicy; Delete when empty
		terminal   bool                        // stdin is a terminal
		stdin      string                      // what the user types
		args       []string                    //
		wantErr    string                      // the error, "" for none
		wantErrOut []string                    // in standard error, in order
		notErrOut  string                      // never in standard error
		wantSpec   func(*shopv1alpha1.Storefront) bool
	}{
		{name: "hibernate without a terminal and without --yes is refused, naming --yes",
			args: []string{"hibernate", "acme"}, wantErr: refusal(action("hibernate")),
			wantSpec: func(sf *shopv1alpha1.Storefront) bool { return !sf.Spec.Hibernate }},
		{name: "restore without a terminal and without --yes is refused, naming --yes",
			args: []string{"restore", "acme", listed}, wantErr: refusal(action("restore") + " from snapshot " + listed),
			wantSpec: func(sf *shopv1alpha1.Storefront) bool { return sf.Spec.Database.Aurora.RestoreFrom == nil }},
		{name: "hibernate on a terminal asks, and no cancels",
			terminal: true, stdin: "n\n", args: []string{"hibernate", "acme"},
			wantErr: "cancelled: did not " + action("hibernate"),
			wantErrOut: []string{"About to " + action("hibernate") + ":\n" +
				"  - the shop goes offline: its pods stop, and every page answers 503 \"This shop is sleeping\"\n" +
				"  - it stays offline until kubectl storefront wake acme\n" +
				"Continue? [y/N]: "},
			wantSpec: func(sf *shopv1alpha1.Storefront) bool { return !sf.Spec.Hibernate }},
		{name: "hibernate on a terminal, answered y, hibernates",
			terminal: true, stdin: "y\n", args: []string{"hibernate", "acme"},
			wantErrOut: []string{"Continue? [y/N]: "},
			wantSpec:   func(sf *shopv1alpha1.Storefront) bool { return sf.Spec.Hibernate }},
		{name: "restore on a terminal asks what it loses, and an empty answer cancels",
			terminal: true, stdin: "\n", args: []string{"restore", "acme", listed},
			wantErr: "cancelled: did not " + action("restore") + " from snapshot " + listed, wantErrOut: []string{restoreQuestion},
			wantSpec: func(sf *shopv1alpha1.Storefront) bool { return sf.Spec.Database.Aurora.RestoreFrom == nil }},
		{name: "restore on a terminal, stdin closed without an answer, cancels",
			terminal: true, args: []string{"restore", "acme", listed},
			wantErr:  "cancelled: did not " + action("restore") + " from snapshot " + listed,
			wantSpec: func(sf *shopv1alpha1.Storefront) bool { return sf.Spec.Database.Aurora.RestoreFrom == nil }},
		{name: "restore on a terminal, answered yes, restores a listed snapshot without a warning",
			terminal: true, stdin: "YES\n", args: []string{"restore", "acme", listed},
			wantErrOut: []string{restoreQuestion}, notErrOut: "Warning",
			wantSpec: func(sf *shopv1alpha1.Storefront) bool {
				return *sf.Spec.Database.Aurora.RestoreFrom == shopv1alpha1.RestoreSource{SnapshotIdentifier: listed}
			}},
		{name: "under Retain the question says the replaced cluster is kept",
			policy: shopv1alpha1.DeletionPolicyRetain, terminal: true, stdin: "y\n", args: []string{"restore", "acme", listed},
			wantErrOut: []string{"  - once the shop has moved, the current DB cluster sf-plugin-confirm-acme-1a2b3c4d is kept in AWS, no longer managed by the operator (deletionPolicy Retain)\n"},
			wantSpec:   func(sf *shopv1alpha1.Storefront) bool { return sf.Spec.Database.Aurora.RestoreFrom != nil }},
		{name: "a snapshot not in status.snapshots is warned about, not refused (--yes)",
			args: []string{"restore", "acme", "sf-plugin-confirm-acme-1a2b3c4d-final-99999999", "--yes"},
			wantErrOut: []string{"Warning: snapshot sf-plugin-confirm-acme-1a2b3c4d-final-99999999 is not in status.snapshots of storefront acme " +
				"(the operator's last pre-migration and on-demand snapshots): a final snapshot of a replaced cluster or of an earlier Storefront of the same name is not listed there; " +
				"if RDS does not know it, the restore fails (DatabaseRestored=False, RestoreFailed) and the shop stays on its database\n"},
			notErrOut: "Continue?",
			wantSpec: func(sf *shopv1alpha1.Storefront) bool {
				return sf.Spec.Database.Aurora.RestoreFrom.SnapshotIdentifier == "sf-plugin-confirm-acme-1a2b3c4d-final-99999999"
			}},
		{name: "a listed snapshot that is not available yet is warned about, before the question",
			terminal: true, stdin: "n\n", args: []string{"restore", "acme", shop.Status.Snapshots[1].Identifier},
			wantErr: "cancelled: did not " + action("restore") + " from snapshot " + shop.Status.Snapshots[1].Identifier,
			wantErrOut: []string{"Warning: snapshot " + shop.Status.Snapshots[1].Identifier + " is creating in status.snapshots, not available: RDS restores only an available snapshot\n",
				"About to " + action("restore")},
			wantSpec: func(sf *shopv1alpha1.Storefront) bool { return sf.Spec.Database.Aurora.RestoreFrom == nil }},
		{name: "a refused restore asks nothing",
			restored: listed, terminal: true, stdin: "y\n", args: []string{"restore", "acme", listed},
			wantErr: "storefront acme was already restored from snapshot " + listed, notErrOut: "About to",
			wantSpec: func(sf *shopv1alpha1.Storefront) bool {
				return sf.Spec.Database.Aurora.RestoreFrom.SnapshotIdentifier == listed
			}},
		{name: "hibernating a sleeping shop changes nothing and asks nothing",
			hibernated: true, args: []string{"hibernate", "acme"},
			wantSpec: func(sf *shopv1alpha1.Storefront) bool { return sf.Spec.Hibernate }},
		{name: "wake asks nothing",
			hibernated: true, args: []string{"wake", "acme"},
			wantSpec: func(sf *shopv1alpha1.Storefront) bool { return !sf.Spec.Hibernate }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewWithT(t)
			g.Eventually(func() error {
				sf := getShop(g, ns)
				sf.Spec.Hibernate = tc.hibernated
				sf.Spec.Database.Aurora.RestoreFrom = nil
				if tc.restored != "" {
					sf.Spec.Database.Aurora.RestoreFrom = &shopv1alpha1.RestoreSource{SnapshotIdentifier: tc.restored}
				}
				sf.Spec.Database.Aurora.DeletionPolicy = shopv1alpha1.DeletionPolicyDelete
				if tc.policy != "" {
					sf.Spec.Database.Aurora.DeletionPolicy = tc.policy
				}
				return k8sClient.Update(ctx, sf)
			}).WithTimeout(eventually).WithPolling(poll).Should(Succeed())
			defer func(old func(io.Reader) bool) { stdinIsTerminal = old }(stdinIsTerminal)
			stdinIsTerminal = func(io.Reader) bool { return tc.terminal }

			_, errOut, err := runWithInput(ns, tc.stdin, tc.args...)
			if tc.wantErr == "" {
				g.Expect(err).NotTo(HaveOccurred())
			} else {
				g.Expect(err).To(MatchError(ContainSubstring(tc.wantErr)))
			}
			rest := errOut
			for _, want := range tc.wantErrOut {
				i := strings.Index(rest, want)
				g.Expect(i).To(BeNumerically(">=", 0), "standard error lacks, or has out of order, %q:\n%s", want, errOut)
				rest = rest[i+len(want):]
			}
			if tc.notErrOut != "" {
				g.Expect(errOut).NotTo(ContainSubstring(tc.notErrOut))
			}
			g.Expect(tc.wantSpec(getShop(g, ns))).To(BeTrue(), "spec after the command: %+v", getShop(g, ns).Spec)
		})
	}

	t.Run("with -o json the question goes to standard error: standard output stays JSON", func(t *testing.T) {
		g := NewWithT(t)
		defer func(old func(io.Reader) bool) { stdinIsTerminal = old }(stdinIsTerminal)
		stdinIsTerminal = func(io.Reader) bool { return true }
		out, errOut, err := runWithInput(ns, "y\n", "restore", "acme", shop.Status.Snapshots[0].Identifier+"x", "-o", "json")
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(errOut).To(ContainSubstring("Continue? [y/N]: "))
		var sf shopv1alpha1.Storefront
		g.Expect(json.Unmarshal([]byte(out), &sf)).To(Succeed(), out)
		g.Expect(sf.Spec.Database.Aurora.RestoreFrom.SnapshotIdentifier).To(Equal(listed + "x"))
	})
}

// Only a terminal counts as one: a pipe or a buffer (a script, CI) does not, so that a
// destructive command there needs --yes.
func TestStdinIsTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = r.Close(); _ = w.Close() }()
	if stdinIsTerminal(r) {
		t.Error("a pipe is taken for a terminal")
	}
	if stdinIsTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is taken for a terminal")
	}
	// The master side of a new pseudo-terminal is one.
	pty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer func() { _ = pty.Close() }()
	if !stdinIsTerminal(pty) {
		t.Error("a pseudo-terminal is not taken for a terminal")
	}
}
