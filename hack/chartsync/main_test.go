package main

import (
	"strings"
	"testing"
)

func TestCRDTemplate(t *testing.T) {
	tests := map[string]struct {
		src     string
		want    []string // substrings of the template
		wantErr string
	}{
		"the keep annotation joins existing annotations": {
			src:  "---\napiVersion: v1\nkind: X\nmetadata:\n  annotations:\n    a: b\n  name: x\nspec: {}\n",
			want: []string{"metadata:\n  annotations:\n    helm.sh/resource-policy: keep\n    a: b\n  name: x\n", "{{- if .Values.crds.install }}\n", "\n{{- end }}\n"},
		},
		"a CRD without annotations gets the block": {
			src:  "apiVersion: v1\nkind: X\nmetadata:\n  name: x\n",
			want: []string{"metadata:\n  annotations:\n    helm.sh/resource-policy: keep\n  name: x"},
		},
		"template-looking text is escaped, not executed": {
			src:  "apiVersion: v1\nkind: X\nmetadata:\n  name: x\ndescription: \"use {{ .Values }}\"\n",
			want: []string{`use {{ "{{" }} .Values }}`},
		},
		"a document without top-level metadata is refused": {
			src:     "apiVersion: v1\nkind: X\n",
			wantErr: "no top-level metadata",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := crdTemplate("config/crd/bases/x.yaml", []byte(tc.src))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("template lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestManagerTemplateKeepsEveryRole(t *testing.T) {
	src := `---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: manager-role
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: manager-role
  namespace: kube-system
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get]
`
	out, err := managerTemplate([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"kind: ClusterRole\n", "kind: ClusterRoleBinding\n", "kind: Role\n", "kind: RoleBinding\n",
		"namespace: kube-system", "- secrets", "- configmaps", `{{ include "storefront-operator.fullname" . }}-manager`} {
		if !strings.Contains(string(out), w) {
			t.Errorf("template lacks %q:\n%s", w, out)
		}
	}
	if _, err := managerTemplate([]byte("kind: Deployment\nmetadata: {name: x}\n")); err == nil {
		t.Error("a Deployment in role.yaml was accepted")
	}
}
