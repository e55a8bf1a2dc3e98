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
	Name           string         `yaml:"name"`
	RunsOn         string         `yaml:"runs-on"`
	TimeoutMinutes int            `yaml:"timeout-minutes"`
	Strategy       map[string]any `yaml:"strategy"`
	Steps          []workflowStep `yaml:"steps"`
	Extra          map[string]any `yaml:",inline"`
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

var pinnedAction = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@(v[0-9]+(\.[0-9]+){0,2}|[0-9a-f]{40})$`)

func TestWorkflowsAreWellFormed(t *testing.T) {
	files, err := filepath.Glob(repoPath(".github", "workflows", "*.yml"))
	if err != nil || len(files) < 3 {
		t.Fatalf("want the ci, images and chart workflows, found %v (%v)", files, err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			w := loadWorkflow(t, name)
			if w.Name == "" || len(w.On) == 0 || len(w.Jobs) == 0 {
				t.Fatalf("needs name, on and jobs: %+v", w)
			}
			if len(w.Permissions) == 0 {
				t.Error("no top-level permissions: the token would get the repository's defaults")
			}
			for id, j := range w.Jobs {
				if j.RunsOn == "" || len(j.Steps) == 0 {
					t.Errorf("job %s needs runs-on and steps", id)
				}
				if j.TimeoutMinutes <= 0 || j.TimeoutMinutes > 90 {
					t.Errorf("job %s: timeout-minutes %d, want 1..90", id, j.TimeoutMinutes)
				}
				for i, s := range j.Steps {
					if (s.Uses == "") == (s.Run == "") {
						t.Errorf("job %s step %d (%s): exactly one of uses and run", id, i, s.Name)
					}
					if s.Uses != "" && !pinnedAction.MatchString(s.Uses) {
						t.Errorf("job %s step %d: action %q is not pinned to a version tag or commit", id, i, s.Uses)
					}
				}
			}
		})
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
	for _, repo := range []string{"rds-controller", "elasticache-controller", "ec2-controller", "runtime"} {
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
		"rds.services.k8s.aws_dbsubnetgroups.yaml", "elasticache.services.k8s.aws_serverlesscaches.yaml"} {
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
	for _, p := range present {
		if !listed[filepath.Base(p)] {
			t.Errorf("%s is in %s but not fetched by CI (hack/ack-crds.sha256)", filepath.Base(p), dir)
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
		var pushed bool
		for _, s := range job.Steps {
			if strings.HasPrefix(s.Uses, "docker/build-push-action@") {
				pushed = s.With["push"] == "true" && s.With["file"] == "${{ matrix.dockerfile }}" &&
					strings.Contains(s.With["build-args"], "VERSION=")
			}
		}
		if !pushed {
			t.Error("no build-push-action step pushing ${{ matrix.dockerfile }} with VERSION")
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
