package delivery

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
	"helm.sh/helm/v3/pkg/chart/loader"

	"github.com/storefront-operator/storefront/test/testenv"
)

// workflow is the part of a GitHub Actions workflow the tests read. YAML 1.2 (yaml/v3)
// keeps the key `on` a string, as GitHub reads it.
type workflow struct {
	Name        string                 `yaml:"name"`
	On          map[string]any         `yaml:"on"`
	Permissions map[string]string      `yaml:"permissions"`
	Jobs        map[string]workflowJob `yaml:"jobs"`
	Env         map[string]string      `yaml:"env"`
	Extra       map[string]any         `yaml:",inline"`
}

type workflowJob struct {
	Name           string            `yaml:"name"`
	Permissions    map[string]string `yaml:"permissions"`
	RunsOn         string            `yaml:"runs-on"`
	TimeoutMinutes int               `yaml:"timeout-minutes"`
	Strategy       map[string]any    `yaml:"strategy"`
	Steps          []workflowStep    `yaml:"steps"`
	Extra          map[string]any    `yaml:",inline"`
}

type workflowStep struct {
	Name             string            `yaml:"name"`
	ID               string            `yaml:"id"`
	Uses             string            `yaml:"uses"`
	Run              string            `yaml:"run"`
	With             map[string]string `yaml:"with"`
	Env              map[string]string `yaml:"env"`
	WorkingDirectory string            `yaml:"working-directory"`
}

func loadWorkflow(t *testing.T, name string) workflow {
	t.Helper()
	data, err := os.ReadFile(repoPath(".github", "workflows", name))
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&w); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return w
}

// pinnedUse is a third-party action pinned to a commit, with the release it is as a
// comment: `uses: owner/repo@<40 hex> # vX.Y.Z`. A tag can be moved to other code; a
// commit cannot.
var pinnedUse = regexp.MustCompile(`^\s*(?:-\s+)?uses:\s+([A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+)@([0-9a-f]{40})\s+#\s+(v[0-9]+\.[0-9]+\.[0-9]+)\s*$`)

// actionReleases are the actions the workflows may use, at the commits of the releases
// named, each read from the action's own repository (git rev-list -n1 <tag>, and
// action.yml's runs.using): all run on Node 24, the runtime GitHub's runners support
// after Node 20's retirement (cosign-installer is a composite action).
var actionReleases = map[string]struct{ release, runtime string }{
	"actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1":             {"v7.0.1", "node24"},
	"actions/setup-go@b7ad1dad31e06c5925ef5d2fc7ad053ef454303e":             {"v7.0.0", "node24"},
	"actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae":                {"v5.0.5", "node24"},
	"hashicorp/setup-terraform@dfe3c3f87815947d99a8997f908cb6525fc44e9e":    {"v4.0.1", "node24"},
	"browser-actions/setup-chrome@48ad923757ca74d66703209fe939badbdf80f2f4": {"v2.2.0", "node24"},
	"docker/setup-buildx-action@37fe631027851001ddb9b187196cc803df7f5f0e":   {"v4.3.0", "node24"},
	"docker/login-action@4907a6ddec9925e35a0a9e82d7399ccc52663121":          {"v4.1.0", "node24"},
	"docker/metadata-action@dc802804100637a589fabce1cb79ff13a1411302":       {"v6.2.0", "node24"},
	"docker/build-push-action@53b7df96c91f9c12dcc8a07bcb9ccacbed38856a":     {"v7.3.0", "node24"},
	"sigstore/cosign-installer@6f9f17788090df1f26f669e9d70d6ae9567deba6":    {"v4.1.2", "composite"},
	"azure/setup-helm@9bc31f4ebc9c6b171d7bfbaa5d006ae7abdb4310":             {"v5.0.1", "node24"},
	"softprops/action-gh-release@b4309332981a82ec1c5618f44dd2e27cc8bfbfda":  {"v3.0.0", "node24"},
}

// allowedWrites are the only write permissions a job may hold, and why.
var allowedWrites = map[string]map[string]bool{
	"images.yml": {"packages": true, "id-token": true}, // push to ghcr.io; cosign keyless signing
	"chart.yml":  {"packages": true, "contents": true}, // push the chart; attach it to the release
}

func workflowFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(repoPath(".github", "workflows", "*.yml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("want the ci, images and chart workflows, found %v (%v)", files, err)
	}
	return files
}

func TestWorkflowsAreWellFormed(t *testing.T) {
	for _, f := range workflowFiles(t) {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			w := loadWorkflow(t, name)
			if w.Name == "" || len(w.On) == 0 || len(w.Jobs) == 0 {
				t.Fatalf("needs name, on and jobs: %+v", w)
			}
			// Least privilege: the token reads the repository, and a job that must write
			// says so itself.
			if len(w.Permissions) != 1 || w.Permissions["contents"] != "read" {
				t.Errorf("top-level permissions %v, want exactly contents: read", w.Permissions)
			}
			for id, j := range w.Jobs {
				if j.RunsOn == "" || len(j.Steps) == 0 {
					t.Errorf("job %s needs runs-on and steps", id)
				}
				if j.TimeoutMinutes <= 0 || j.TimeoutMinutes > 90 {
					t.Errorf("job %s: timeout-minutes %d, want 1..90", id, j.TimeoutMinutes)
				}
				for scope, level := range j.Permissions {
					if level == "write" && !allowedWrites[name][scope] {
						t.Errorf("job %s: %s: write is more than this workflow needs", id, scope)
					}
				}
				for i, s := range j.Steps {
					if (s.Uses == "") == (s.Run == "") {
						t.Errorf("job %s step %d (%s): exactly one of uses and run", id, i, s.Name)
					}
					if s.Uses != "" && !strings.HasPrefix(s.Uses, "./") {
						rel, ok := actionReleases[s.Uses]
						if !ok {
							t.Errorf("job %s step %d: action %q is not one of the pinned releases this test knows; pin it to a release's commit and add it here with the runtime its action.yml names", id, i, s.Uses)
						} else if rel.runtime != "node24" && rel.runtime != "composite" {
							t.Errorf("job %s step %d: %s runs on %s, a retired runtime", id, i, s.Uses, rel.runtime)
						}
					}
					if strings.Contains(s.Run, "apt-get install") && strings.Contains(s.Run, "chromium") {
						t.Errorf("job %s step %d installs chromium with apt: on Ubuntu 24.04 that is a snap transition package", id, i)
					}
				}
			}
		})
	}
}

// Every third-party action is pinned to a 40-hex commit SHA, with the release it is
// named in a comment, and the comment agrees with the table above.
func TestWorkflowActionsArePinnedToCommits(t *testing.T) {
	uses := regexp.MustCompile(`^\s*(?:-\s+)?uses:\s*(\S+)`)
	n := 0
	for _, f := range workflowFiles(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(data), "\n") {
			m := uses.FindStringSubmatch(line)
			if m == nil || strings.HasPrefix(m[1], "./") {
				continue
			}
			n++
			p := pinnedUse.FindStringSubmatch(line)
			if p == nil {
				t.Errorf("%s:%d: %q is not pinned as `owner/repo@<40-hex commit> # vX.Y.Z`", filepath.Base(f), i+1, strings.TrimSpace(line))
				continue
			}
			if rel, ok := actionReleases[p[1]+"@"+p[2]]; ok && rel.release != p[3] {
				t.Errorf("%s:%d: %s is %s, the comment says %s", filepath.Base(f), i+1, p[1], rel.release, p[3])
			}
		}
	}
	if n < 10 {
		t.Errorf("found only %d uses: lines; is the workflow directory read?", n)
	}
	// The check must be able to fail.
	for _, bad := range []string{"uses: actions/checkout@v4", "uses: actions/checkout@main # v4.0.0", "- uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1"} {
		if pinnedUse.MatchString(bad) {
			t.Errorf("%q passes as pinned", bad)
		}
	}
}

// CI checks the Terraform against the registry's schemas, and looks for known
// vulnerabilities, where GitHub can reach both.
func TestCIValidatesTerraformAndVulnerabilities(t *testing.T) {
	w := loadWorkflow(t, "ci.yml")
	var setup, validate, vuln, chrome bool
	for _, s := range stepsOf(w) {
		setup = setup || strings.HasPrefix(s.Uses, "hashicorp/setup-terraform@")
		if strings.Contains(s.Run, "terraform init -backend=false") && strings.Contains(s.Run, "terraform validate") {
			validate = s.WorkingDirectory == "hack/eks"
		}
		vuln = vuln || strings.TrimSpace(s.Run) == "make vulncheck"
		chrome = chrome || strings.HasPrefix(s.Uses, "browser-actions/setup-chrome@")
		if strings.TrimSpace(s.Run) == "bash .ci/run" && s.Env["CHROMIUM_PATH"] != "${{ steps.chrome.outputs.chrome-path }}" {
			t.Errorf(".ci/run gets CHROMIUM_PATH %q, want the setup-chrome step's chrome-path", s.Env["CHROMIUM_PATH"])
		}
	}
	if !setup || !validate {
		t.Errorf("setup-terraform: %v, `terraform init -backend=false && terraform validate` in hack/eks: %v", setup, validate)
	}
	if !vuln {
		t.Error("no step runs make vulncheck (govulncheck)")
	}
	if !chrome {
		t.Error("no setup-chrome step: Ubuntu 24.04's chromium package is a snap transition package")
	}
}

func stepsOf(w workflow) []workflowStep {
	var out []workflowStep
	for _, id := range sortedKeys(w.Jobs) {
		out = append(out, w.Jobs[id].Steps...)
	}
	return out
}

func TestCIWorkflowRunsCIRunWithTheRealACKCRDs(t *testing.T) {
	w := loadWorkflow(t, "ci.yml")
	for _, ev := range []string{"push", "pull_request"} {
		if _, ok := w.On[ev]; !ok {
			t.Errorf("CI does not run on %s", ev)
		}
	}
	var repoPathInWorkspace string
	var ran, assembled bool
	checkedOut := map[string]string{}
	for _, s := range stepsOf(w) {
		if strings.HasPrefix(s.Uses, "actions/checkout@") {
			if s.With["repository"] == "" {
				repoPathInWorkspace = s.With["path"]
			} else {
				checkedOut[s.With["repository"]] = s.With["ref"]
			}
		}
		if strings.TrimSpace(s.Run) == "bash .ci/run" {
			ran = true
			if s.WorkingDirectory != repoPathInWorkspace {
				t.Errorf(".ci/run runs in %q, the repository is checked out at %q", s.WorkingDirectory, repoPathInWorkspace)
			}
		}
		if strings.Contains(s.Run, "hack/ack-crds.sh") {
			assembled = true
			// .ci/run wants the CRDs at ../shared/ack-crds relative to the checkout.
			fields := strings.Fields(s.Run)
			if dest := fields[len(fields)-1]; filepath.Clean(filepath.Join(repoPathInWorkspace, "..", "shared", "ack-crds")) != filepath.Clean(dest) {
				t.Errorf("ACK CRDs assembled in %s, not beside the checkout (%s/../shared/ack-crds)", dest, repoPathInWorkspace)
			}
		}
	}
	if !ran {
		t.Error("no step runs `bash .ci/run`")
	}
	if !assembled {
		t.Error("no step assembles ../shared/ack-crds with hack/ack-crds.sh")
	}
	if repoPathInWorkspace == "" {
		t.Error("the repository must be checked out into a subdirectory, so that ../shared sits beside it")
	}
	// The commits checked out are the ones the checksum file was made from.
	header := ackChecksumHeader(t)
	for _, repo := range []string{"rds-controller", "elasticache-controller", "ec2-controller", "runtime",
		"s3-controller", "cloudfront-controller", "acm-controller"} {
		ref := checkedOut["aws-controllers-k8s/"+repo]
		if ref == "" || !strings.Contains(header, repo+" "+ref) {
			t.Errorf("aws-controllers-k8s/%s checked out at %q; hack/ack-crds.sha256 names: %s", repo, ref, header)
		}
	}
}

func ackChecksumHeader(t *testing.T) string {
	t.Helper()
	f, err := os.Open(repoPath("hack", "ack-crds.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var header []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			header = append(header, sc.Text())
		}
	}
	return strings.Join(header, " ")
}

func TestACKChecksumsMatchTheCRDsTestsUse(t *testing.T) {
	data, err := os.ReadFile(repoPath("hack", "ack-crds.sha256"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		f := strings.Fields(l)
		if len(f) != 2 || len(f[0]) != 64 {
			t.Errorf("malformed line %q", l)
			continue
		}
		listed[f[1]] = true
	}
	for _, need := range []string{"rds.services.k8s.aws_dbclusters.yaml", "rds.services.k8s.aws_dbinstances.yaml",
		"rds.services.k8s.aws_dbsubnetgroups.yaml", "elasticache.services.k8s.aws_serverlesscaches.yaml",
		"elasticache.services.k8s.aws_users.yaml", "elasticache.services.k8s.aws_usergroups.yaml",
		// Product images and the CDN, in the subfolder ../shared/ack-crds keeps them in
		// (testenv.ImagesCDNSubdir): the checksum lines carry the folder, so sha256sum -c
		// and hack/ack-crds.sh find them where the suites load them from.
		"images-cdn/s3.services.k8s.aws_buckets.yaml", "images-cdn/cloudfront.services.k8s.aws_distributions.yaml",
		"images-cdn/cloudfront.services.k8s.aws_originaccesscontrols.yaml",
		"images-cdn/cloudfront.services.k8s.aws_cachepolicies.yaml", "images-cdn/acm.services.k8s.aws_certificates.yaml"} {
		if !listed[need] {
			t.Errorf("%s: a CRD the operator writes is not fetched for CI", need)
		}
	}
	// Where the real CRDs are beside the checkout, the script must reproduce them exactly.
	dir, real, err := testenv.ACKCRDDir()
	if err != nil {
		t.Fatal(err)
	}
	if !real {
		t.Logf("no real ACK CRDs at %s; checked the checksum file's form only", dir)
		return
	}
	sha := exec.Command("sha256sum", "--quiet", "-c", repoPath("hack", "ack-crds.sha256"))
	sha.Dir = dir
	if out, err := sha.CombinedOutput(); err != nil {
		t.Errorf("sha256sum -c in %s: %v\n%s", dir, err, out)
	}
	present, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	sub, _ := filepath.Glob(filepath.Join(dir, testenv.ImagesCDNSubdir, "*.yaml"))
	for _, p := range append(present, sub...) {
		rel, _ := filepath.Rel(dir, p)
		if !listed[filepath.ToSlash(rel)] {
			t.Errorf("%s is in %s but not fetched by CI (hack/ack-crds.sha256)", rel, dir)
		}
	}
}

func TestReleaseWorkflows(t *testing.T) {
	t.Run("images are built and pushed on tags", func(t *testing.T) {
		w := loadWorkflow(t, "images.yml")
		if !pushesOnTags(w) {
			t.Errorf("images.yml does not run on pushed v* tags: %v", w.On)
		}
		job := w.Jobs["image"]
		include, _ := job.Strategy["matrix"].(map[string]any)["include"].([]any)
		dockerfiles := map[string]bool{}
		for _, x := range include {
			m := x.(map[string]any)
			df, _ := m["dockerfile"].(string)
			if _, err := os.Stat(repoPath(df)); err != nil {
				t.Errorf("matrix dockerfile %s: %v", df, err)
			}
			dockerfiles[df] = true
		}
		if !dockerfiles["Dockerfile"] || !dockerfiles["shop/Dockerfile"] {
			t.Errorf("matrix builds %v, want Dockerfile and shop/Dockerfile", dockerfiles)
		}
		var pushed, attested, signed bool
		for _, s := range job.Steps {
			if strings.HasPrefix(s.Uses, "docker/build-push-action@") {
				pushed = s.With["push"] == "true" && s.With["file"] == "${{ matrix.dockerfile }}" &&
					strings.Contains(s.With["build-args"], "VERSION=") && s.With["platforms"] == "linux/amd64,linux/arm64"
				attested = s.With["sbom"] == "true" && strings.HasPrefix(s.With["provenance"], "mode=max")
			}
			if strings.Contains(s.Run, "cosign sign --yes") && strings.Contains(s.Env["DIGEST"], "steps.build.outputs.digest") {
				signed = true
			}
		}
		if !pushed {
			t.Error("no build-push-action step pushing ${{ matrix.dockerfile }} for amd64 and arm64 with VERSION")
		}
		if !attested {
			t.Error("the images are pushed without an SBOM and provenance attestation")
		}
		if !signed || job.Permissions["id-token"] != "write" {
			t.Errorf("the images are not signed with cosign keyless by digest (signed %v, id-token %q)", signed, job.Permissions["id-token"])
		}
	})
	t.Run("the chart is packaged and published on tags", func(t *testing.T) {
		w := loadWorkflow(t, "chart.yml")
		if !pushesOnTags(w) {
			t.Errorf("chart.yml does not run on pushed v* tags: %v", w.On)
		}
		var packaged, pushed bool
		for _, s := range stepsOf(w) {
			packaged = packaged || strings.Contains(s.Run, "make chart-package")
			pushed = pushed || strings.Contains(s.Run, "helm push bin/charts/")
		}
		if !packaged || !pushed {
			t.Errorf("chart.yml packages: %v, pushes: %v", packaged, pushed)
		}
	})
}

func pushesOnTags(w workflow) bool {
	push, _ := w.On["push"].(map[string]any)
	tags, _ := push["tags"].([]any)
	for _, tag := range tags {
		if tag == "v*" {
			return true
		}
	}
	return false
}

// TestChartPackage runs what `make chart-package` runs and loads the archive back.
func TestChartPackage(t *testing.T) {
	out := t.TempDir()
	cmd := exec.Command("go", "run", "./hack/chartpackage", "--chart", chartDir(), "--version", "v1.2.3", "--out", out)
	cmd.Dir = repoPath()
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chartpackage: %v\n%s", err, b)
	}
	ch, err := loader.Load(filepath.Join(out, "storefront-operator-1.2.3.tgz"))
	if err != nil {
		t.Fatal(err)
	}
	if ch.Metadata.Version != "1.2.3" || ch.Metadata.AppVersion != "1.2.3" {
		t.Errorf("packaged version %s appVersion %s, want 1.2.3 (the image tag the images workflow pushes)",
			ch.Metadata.Version, ch.Metadata.AppVersion)
	}
	var crd, ci bool
	for _, f := range ch.Templates {
		crd = crd || strings.HasPrefix(f.Name, "templates/crd-")
	}
	for _, f := range ch.Raw {
		ci = ci || strings.HasPrefix(f.Name, "ci/")
	}
	if !crd || ci {
		t.Errorf("archive has the CRD template: %v, the ci/ test values: %v (want true, false)", crd, ci)
	}
	bad := exec.Command("go", "run", "./hack/chartpackage", "--chart", chartDir(), "--version", "main-dirty", "--out", out)
	bad.Dir = repoPath()
	if b, err := bad.CombinedOutput(); err == nil || !strings.Contains(string(b), "not semantic") {
		t.Errorf("a non-semver version was accepted: %v %s", err, b)
	}
}
