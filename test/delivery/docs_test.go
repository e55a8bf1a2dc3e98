package delivery

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	shopv1alpha1 "github.com/storefront-operator/storefront/api/v1alpha1"
)

var (
	mdLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// Code is not prose: a regular expression in a code span is no link.
	fencedCode = regexp.MustCompile("(?s)```.*?```")
	inlineCode = regexp.MustCompile("`+[^`]*`+")
)

func readDoc(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(repoPath(rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDocsCoverTheOperatorsLife(t *testing.T) {
	tests := map[string]struct {
		file string
		want []string
	}{
		"the architecture is drawn in mermaid": {"docs/architecture.md", []string{"```mermaid", "ACK", "enableNetworkPolicy"}},
		"the EKS install goes step by step": {"docs/install-eks.md", []string{
			"terraform apply -var-file=my.tfvars -target=module.vpc -target=module.eks", "make docker-build docker-push",
			"helm install storefront-operator charts/storefront-operator", "config/samples/shop_v1alpha1_storefront.yaml"}},
		"the runbook covers retries, rotation, deletion and restore": {"docs/runbook.md", []string{
			shopv1alpha1.AnnotationRetryMigration, shopv1alpha1.AnnotationRotateDBPassword,
			string(shopv1alpha1.DeletionPolicySnapshot), string(shopv1alpha1.DeletionPolicyRetain), string(shopv1alpha1.DeletionPolicyDelete),
			"restore-db-cluster-from-snapshot", shopv1alpha1.ConditionReady, shopv1alpha1.ReasonMigrationFailed}},
		"troubleshooting names the failure reasons": {"docs/troubleshooting.md", []string{
			shopv1alpha1.ReasonProvisioningFailed, shopv1alpha1.ReasonProvisioningRetrying, shopv1alpha1.ReasonConnectionSecretNotFound,
			shopv1alpha1.ReasonRolloutStuck, shopv1alpha1.ReasonMigrationFailed}},
		"the EKS README gives the apply order and the teardown": {"hack/eks/README.md", []string{"## Apply", "## Teardown", "terraform destroy"}},
		"the README links the delivery docs":                    {"README.md", []string{"## Deploy to EKS", "docs/install-eks.md", "make docker-build"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			doc := readDoc(t, tc.file)
			for _, w := range tc.want {
				if !strings.Contains(doc, w) {
					t.Errorf("%s does not mention %q", tc.file, w)
				}
			}
		})
	}
}

func TestDocsLinksResolve(t *testing.T) {
	files := []string{"README.md", "hack/eks/README.md"}
	more, _ := filepath.Glob(repoPath("docs", "*.md"))
	for _, m := range more {
		rel, _ := filepath.Rel(repoPath(), m)
		files = append(files, rel)
	}
	for _, f := range files {
		prose := inlineCode.ReplaceAllString(fencedCode.ReplaceAllString(readDoc(t, f), ""), "")
		for _, m := range mdLink.FindAllStringSubmatch(prose, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, _, _ = strings.Cut(target, "#")
			if _, err := os.Stat(filepath.Join(filepath.Dir(repoPath(f)), target)); err != nil {
				t.Errorf("%s links to %s, which does not exist", f, m[1])
			}
		}
	}
}
