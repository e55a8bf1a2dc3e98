package delivery

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

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
			"-target=module.vpc -target=module.eks -target=aws_ecr_repository.images", "make docker-build docker-push",
			"operator_repository_url", "shop_repository_url", "certificateARN", "elbv2.k8s.aws/pod-readiness-gate-inject=enabled",
			"helm install storefront-operator charts/storefront-operator", "config/samples/shop_v1alpha1_storefront.yaml"}},
		"the runbook covers retries, rotation, deletion and restore": {"docs/runbook.md", []string{
			shopv1alpha1.AnnotationRetryMigration, shopv1alpha1.AnnotationRotateDBPassword, shopv1alpha1.AnnotationRotateMasterPassword,
			string(shopv1alpha1.DeletionPolicySnapshot), string(shopv1alpha1.DeletionPolicyRetain), string(shopv1alpha1.DeletionPolicyDelete),
			"restore-db-cluster-from-snapshot", shopv1alpha1.ConditionReady, shopv1alpha1.ReasonMigrationFailed}},
		"troubleshooting names the failure reasons and the Warning Events": {"docs/troubleshooting.md", []string{
			shopv1alpha1.ReasonProvisioningFailed, shopv1alpha1.ReasonProvisioningRetrying, shopv1alpha1.ReasonConnectionSecretNotFound,
			shopv1alpha1.ReasonRolloutStuck, shopv1alpha1.ReasonMigrationFailed, shopv1alpha1.ReasonLoginFailed,
			"ShopPortOpenToCluster", "StoreEgressOpenToAnyAddress", "PodReadinessGateNotInjected"}},
		"troubleshooting says how to see the HPA's metrics": {"docs/troubleshooting.md", []string{
			"FailedGetResourceMetric", "kubectl -n shops describe hpa", "metrics.k8s.io", "metrics-server"}},
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
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			target, anchor, _ := strings.Cut(target, "#")
			path := filepath.Join(filepath.Dir(repoPath(f)), target)
			if target == "" {
				path = repoPath(f)
			}
			if _, err := os.Stat(path); err != nil {
				t.Errorf("%s links to %s, which does not exist", f, m[1])
				continue
			}
			if anchor != "" && strings.HasSuffix(path, ".md") {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !headingAnchors(string(b))[anchor] {
					t.Errorf("%s links to %s, which has no heading #%s", f, m[1], anchor)
				}
			}
		}
	}
}

// headingAnchors returns the anchors GitHub gives the headings of a Markdown file: the
// heading's text (link targets dropped) lower-cased, every character other than a letter,
// a digit, a space, a hyphen or an underscore removed, spaces made hyphens, and a
// repeated anchor suffixed with -1, -2, … (github-slugger, which github.com uses).
func headingAnchors(markdown string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	inFence := false
	for _, line := range strings.Split(markdown, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
			continue
		}
		m := atxHeading.FindStringSubmatch(line)
		if inFence || m == nil {
			continue
		}
		slug := slugify(m[1])
		if n := seen[slug]; n > 0 {
			anchors[fmt.Sprintf("%s-%d", slug, n)] = true
		} else {
			anchors[slug] = true
		}
		seen[slug]++
	}
	return anchors
}

var (
	atxHeading   = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	headingLink  = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	architecture = regexp.MustCompile(`architecture\.md#([\p{L}\p{N}_-]+)`)
)

func slugify(heading string) string {
	text := strings.ToLower(headingLink.ReplaceAllString(heading, "$1"))
	var b strings.Builder
	for _, r := range text {
		switch {
		case unicode.IsLetter(r) || unicode.IsNumber(r) || r == '-' || r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

func TestSlugifyFollowsGitHub(t *testing.T) {
	// Anchors as github.com renders them for these headings.
	tests := map[string]string{
		"The shop's process contract":                               "the-shops-process-contract",
		"The whole system on one machine (`make demo`, `test/e2e`)": "the-whole-system-on-one-machine-make-demo-teste2e",
		"Teardown — in this order":                                  "teardown--in-this-order",
		"4b. Installing the chart yourself (an existing cluster)":   "4b-installing-the-chart-yourself-an-existing-cluster",
		"API (`GET /api/openapi.json`)":                             "api-get-apiopenapijson",
		"A [linked](https://example.com) heading":                   "a-linked-heading",
	}
	for heading, want := range tests {
		if got := slugify(heading); got != want {
			t.Errorf("slugify(%q) = %q, want %q", heading, got, want)
		}
	}
	if got := headingAnchors("# Flags\n## Flags\n```\n# not a heading\n```\n### Flags\n"); !got["flags"] || !got["flags-1"] || !got["flags-2"] || got["not-a-heading"] {
		t.Errorf("repeated headings and fences: got %v", got)
	}
}

// repositoryTextFiles walks the repository (not .git, not build output) and returns the
// text files, relative to the root.
func repositoryTextFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	root := repoPath()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case ".git", "bin", "test/artifacts":
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil || !info.Mode().IsRegular() || info.Size() > 4<<20 {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if utf8.Valid(b) && !bytes.Contains(b, []byte{0}) {
			files[filepath.ToSlash(rel)] = string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// Comments and docs cite docs/architecture.md by section; every citation must lead to a
// heading there, and nothing may cite a document outside the repository instead.
func TestArchitectureCitationsResolve(t *testing.T) {
	anchors := headingAnchors(readDoc(t, "docs/architecture.md"))
	for _, want := range []string{"dependency-rules", "the-storefront-api", "what-the-operator-creates", "the-shops-process-contract", "where-each-part-is-tested"} {
		if !anchors[want] {
			t.Errorf("docs/architecture.md has no section #%s", want)
		}
	}
	// Split, so that this file does not match itself.
	outside := []string{"DESIGN" + " §", "shared/" + "DESIGN"}
	cited := 0
	for rel, text := range repositoryTextFiles(t) {
		for _, m := range architecture.FindAllStringSubmatch(text, -1) {
			cited++
			if !anchors[m[1]] {
				t.Errorf("%s cites docs/architecture.md#%s, which is no heading there", rel, m[1])
			}
		}
		for _, o := range outside {
			if strings.Contains(text, o) {
				t.Errorf("%s cites %q, a document outside the repository: cite docs/architecture.md#<section> instead", rel, o)
			}
		}
	}
	if cited < 20 {
		t.Errorf("only %d citations of docs/architecture.md found: is the walk reading the repository?", cited)
	}
}
