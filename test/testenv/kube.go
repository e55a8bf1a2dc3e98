package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// RepoRoot returns the repository root: the nearest directory above this source file
// holding go.mod.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Dir(file)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			panic("testenv: go.mod not found above " + file)
		}
		dir = parent
	}
}

// ACKCRDDir is where the suites load the ACK CRDs from (docs/architecture.md#ack-crds-in-tests): $ACK_CRDS_DIR; else
// ../shared/ack-crds beside the checkout (the real CRDs); else the project's own minimal
// CRDs in test/crds/ack. real reports whether the directory holds the real CRDs.
func ACKCRDDir() (dir string, real bool, err error) {
	if d := os.Getenv("ACK_CRDS_DIR"); d != "" {
		if _, err := os.Stat(d); err != nil {
			return "", false, fmt.Errorf("ACK_CRDS_DIR=%s: %w", d, err)
		}
		return d, filepath.Clean(d) != filepath.Join(RepoRoot(), "test", "crds", "ack"), nil
	}
	shared := filepath.Join(filepath.Dir(RepoRoot()), "shared", "ack-crds")
	if st, err := os.Stat(shared); err == nil && st.IsDir() {
		return shared, true, nil
	}
	return filepath.Join(RepoRoot(), "test", "crds", "ack"), false, nil
}

// ImagesCDNSubdir is the subfolder of the ACK CRD directory holding the CRDs of product
// images and the CDN (s3-controller Bucket; cloudfront-controller Distribution,
// OriginAccessControl, CachePolicy; acm-controller Certificate). The shared directory
// keeps them apart (docs/architecture.md#ack-crds-in-tests), so every suite loads it
// explicitly; hack/ack-crds.sh assembles the same layout for CI.
const ImagesCDNSubdir = "images-cdn"

// ACKCRDPaths are the CRD directories of an API server: the Storefront CRD, the ACK
// CRDs of ackDir and, when present, its images-cdn subfolder (the project's minimal
// CRDs in test/crds/ack have none).
func ACKCRDPaths(ackDir string) []string {
	paths := []string{StorefrontCRDDir(), ackDir}
	if st, err := os.Stat(filepath.Join(ackDir, ImagesCDNSubdir)); err == nil && st.IsDir() {
		paths = append(paths, filepath.Join(ackDir, ImagesCDNSubdir))
	}
	return paths
}

// StorefrontCRDDir is the directory of the generated Storefront CRD.
func StorefrontCRDDir() string {
	return filepath.Join(RepoRoot(), "config", "crd", "bases")
}

// KubebuilderAssets returns the directory of the envtest binaries: $KUBEBUILDER_ASSETS,
// or bin/k8s/<version> as `make envtest` builds it. A missing binary is an error that
// says how to build it.
func KubebuilderAssets() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		matches, _ := filepath.Glob(filepath.Join(RepoRoot(), "bin", "k8s", "1.*"))
		if len(matches) > 0 {
			dir = matches[len(matches)-1]
		}
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if dir == "" || !isExecutable(filepath.Join(dir, b)) {
			return "", errors.New("envtest binaries (kube-apiserver, etcd) not found: run `make envtest` " +
				"(builds them from source into bin/k8s/) or set KUBEBUILDER_ASSETS")
		}
	}
	return dir, nil
}

// NewEnvironment returns an envtest environment with the Storefront CRD and the ACK
// CRDs (see ACKCRDDir) installed. The caller starts and stops it.
func NewEnvironment() (*envtest.Environment, error) {
	assets, err := KubebuilderAssets()
	if err != nil {
		return nil, err
	}
	ackDir, _, err := ACKCRDDir()
	if err != nil {
		return nil, err
	}
	return &envtest.Environment{
		BinaryAssetsDirectory:    assets,
		CRDDirectoryPaths:        ACKCRDPaths(ackDir),
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}, nil
}

// StartEnvironment starts env and, when that fails part-way, stops what did start: a
// kube-apiserver or etcd left running would outlive the test binary.
func StartEnvironment(env *envtest.Environment) (*rest.Config, error) {
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		return nil, err
	}
	return cfg, nil
}
