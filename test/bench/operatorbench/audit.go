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
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// The API server's audit log breaks the operator's requests down by verb and resource,
// which its rest_client_requests_total (by HTTP method only) cannot: the policy records
// every request of the operator's user at the Metadata level and nothing else
// (https://kubernetes.io/docs/tasks/debug/debug-cluster/audit/).
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  users: ["` + operatorUser + `"]
- level: None
`

// operatorUser is the user the operator's kubeconfig authenticates as.
const operatorUser = "storefront-operator"

// enableAudit makes env's API server write the audit log of the operator's requests
// to a file in dir, and returns its reader.
func enableAudit(env *envtest.Environment, dir string) (*auditLog, error) {
	policy := filepath.Join(dir, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o600); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "audit.log")
	args := env.ControlPlane.GetAPIServer().Configure()
	args.Set("audit-policy-file", policy)
	args.Set("audit-log-path", path)
	// The log backend writes each event as the request completes (blocking mode).
	args.Set("audit-log-mode", "blocking")
	return &auditLog{path: path}, nil
}

// auditLog reads the audit log in spans: each breakdown counts the requests logged
// since the previous one.
type auditLog struct {
	path   string
	offset int64
}

// auditEvent holds the fields of an audit.k8s.io/v1 Event the breakdown needs.
type auditEvent struct {
	Stage     string                    `json:"stage"`
	Verb      string                    `json:"verb"`
	User      struct{ Username string } `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		APIGroup    string `json:"apiGroup"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	RequestURI string `json:"requestURI"`
}

// breakdown is a count of requests by "verb resource".
type breakdown map[string]int

// next counts the operator's requests logged since the last call: a request once, when
// it completed (a watch when its response started, since it completes only when the
// watch ends).
func (a *auditLog) next() (breakdown, error) {
	f, err := os.Open(a.path)
	if err != nil {
		return nil, fmt.Errorf("reading the audit log: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(a.offset, io.SeekStart); err != nil {
		return nil, err
	}
	b := breakdown{}
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if err == io.EOF {
			// A partial last line is read again next time.
			break
		}
		if err != nil {
			return nil, err
		}
		a.offset += int64(len(line))
		var e auditEvent
		if err := json.Unmarshal(bytes.TrimSpace(line), &e); err != nil {
			return nil, fmt.Errorf("decoding the audit log: %w", err)
		}
		if e.User.Username != operatorUser {
			continue
		}
		if (e.Verb == "watch" && e.Stage != "ResponseStarted") || (e.Verb != "watch" && e.Stage != "ResponseComplete") {
			continue
		}
		b[e.Verb+" "+e.resource()]++
	}
	return b, nil
}

// resource is the object's resource (with its group, and subresource when there is
// one), or the request's path for a non-resource request (discovery).
func (e auditEvent) resource() string {
	if e.ObjectRef == nil || e.ObjectRef.Resource == "" {
		path, _, _ := strings.Cut(e.RequestURI, "?")
		return path
	}
	r := e.ObjectRef.Resource
	if e.ObjectRef.APIGroup != "" {
		r += "." + e.ObjectRef.APIGroup
	}
	if e.ObjectRef.Subresource != "" {
		r += "/" + e.ObjectRef.Subresource
	}
	return r
}

func (b breakdown) total() int {
	n := 0
	for _, v := range b {
		n += v
	}
	return n
}

// table is the breakdown as markdown rows, most frequent first, per Storefront of n.
func (b breakdown) table(n int) string {
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if b[keys[i]] != b[keys[j]] {
			return b[keys[i]] > b[keys[j]]
		}
		return keys[i] < keys[j]
	})
	var s strings.Builder
	s.WriteString("| verb resource | requests | per Storefront |\n|---|---:|---:|\n")
	for _, k := range keys {
		fmt.Fprintf(&s, "| %s | %d | %.2f |\n", k, b[k], float64(b[k])/float64(max(n, 1)))
	}
	fmt.Fprintf(&s, "| **all** | **%d** | **%.2f** |\n", b.total(), float64(b.total())/float64(max(n, 1)))
	return s.String()
}
