# Storefront — a Kubernetes operator that runs online shops, and the shop itself.
# `make help` lists the targets.

SHELL := /usr/bin/env bash -o pipefail
.SHELLFLAGS := -ec
.DEFAULT_GOAL := help

K8S_VERSION ?= 1.37.2
ETCD_VERSION ?= 3.6.16
# envtest binaries are built from source by hack/envtest.sh (see README); on a machine
# that can download them, `setup-envtest use $(K8S_VERSION) --bin-dir bin/k8s` fills
# the same directory.
KUBEBUILDER_ASSETS ?= $(CURDIR)/bin/k8s/$(K8S_VERSION)
export KUBEBUILDER_ASSETS
# ACK CRDs used by the test suites: the real ones at ../shared/ack-crds beside the
# checkout when present (CI assembles them there with hack/ack-crds.sh), otherwise the
# suites fall back to test/crds/ack (docs/architecture.md#ack-crds-in-tests). Empty when
# the directory is absent, since testenv refuses a directory that does not exist.
ACK_CRDS_DIR ?= $(wildcard $(abspath $(CURDIR)/../shared/ack-crds))
export ACK_CRDS_DIR

CONTROLLER_GEN ?= go tool controller-gen

# Linters, built from their pinned Go modules into bin/tools/<name>/<version>/ (cached:
# built once per version; CI caches bin/ too). Outside go.mod, so that their dependencies
# never become the operator's.
TOOLS_DIR ?= $(CURDIR)/bin/tools
ACTIONLINT_VERSION ?= v1.7.12
STATICCHECK_VERSION ?= v0.8.2
GOVULNCHECK_VERSION ?= v1.9.0
# promtool runs the chart's alert unit tests (test/monitoring); -tags remove_all_sd leaves
# out the service discovery clients (AWS, Azure, GCP, ...), which promtool's rule tests
# never use and which would double its build time.
PROMTOOL_VERSION ?= v0.316.0
ACTIONLINT := $(TOOLS_DIR)/actionlint/$(ACTIONLINT_VERSION)/actionlint
STATICCHECK := $(TOOLS_DIR)/staticcheck/$(STATICCHECK_VERSION)/staticcheck
GOVULNCHECK := $(TOOLS_DIR)/govulncheck/$(GOVULNCHECK_VERSION)/govulncheck
# krew's manifest validator, for hack/krew/krew_test.go (the test says to run `make tools`).
KREW_VERSION ?= v0.4.3
VALIDATE_KREW := $(TOOLS_DIR)/validate-krew-manifest/$(KREW_VERSION)/validate-krew-manifest
PROMTOOL := $(TOOLS_DIR)/promtool/$(PROMTOOL_VERSION)/promtool
export PROMTOOL
GO_TEST_FLAGS ?=
# go test's default limit per package (10m) is below what the controllers suite takes under -race on
# 2 cores; a hung test still fails, with every goroutine's stack, well inside CI's 90 minutes.
GO_TEST_TIMEOUT ?= 30m
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: ## Generate the CRD and RBAC manifests under config/ (and copy them into the chart and docs).
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./api/...;./controllers/..." \
		output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	$(MAKE) --no-print-directory chart-sync api-docs

.PHONY: generate
generate: ## Generate deepcopy code for the API types, the shop's OpenAPI document (shop/api/openapi.json) and its test client.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./api/..."
	go generate ./shop/api/... ./test/apiclient/...

.PHONY: fmt
fmt: ## Format the Go code.
	gofmt -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: vet $(STATICCHECK) ## Run go vet, staticcheck, and check gofmt and terraform fmt.
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(STATICCHECK) ./...
	@# fmt reads no provider settings; an empty CLI config keeps a missing ~/.terraformrc quiet.
	@command -v terraform >/dev/null || { echo "terraform not found: install Terraform >= 1.5.7 (HashiCorp's apt repository: apt-get install terraform)"; exit 1; }
	@TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive hack/eks

.PHONY: verify
verify: manifests generate lint actionlint ## Regenerate, lint, check the workflows, and fail when the committed files differ.
	@go mod tidy -diff || { echo "go.mod/go.sum are not tidy; run 'go mod tidy'"; exit 1; }
	@if [ -n "$$(git status --porcelain -- api config controllers charts docs shop/api test/apiclient)" ]; then \
		echo "Generated files are stale; run 'make manifests generate' and commit:"; \
		git status --porcelain -- api config controllers charts docs shop/api test/apiclient; git --no-pager diff --stat; exit 1; fi

.PHONY: actionlint
actionlint: $(ACTIONLINT) ## Check the GitHub Actions workflows with actionlint.
	$(ACTIONLINT) -color=false

.PHONY: vulncheck
vulncheck: $(GOVULNCHECK) ## Report known vulnerabilities in the code's call graph (needs vuln.go.dev).
	$(GOVULNCHECK) ./...

.PHONY: tools
tools: $(ACTIONLINT) $(STATICCHECK) $(VALIDATE_KREW) ## Build the linters and krew's manifest validator into bin/tools.

$(ACTIONLINT):
	GOBIN=$(@D) go install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)

$(STATICCHECK):
	GOBIN=$(@D) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(VALIDATE_KREW):
	GOBIN=$(@D) go install sigs.k8s.io/krew/cmd/validate-krew-manifest@$(KREW_VERSION)

$(GOVULNCHECK):
	GOBIN=$(@D) go install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)

.PHONY: promtool
promtool: $(PROMTOOL) ## Build promtool into bin/tools (cached; make test does when it is missing).

$(PROMTOOL):
	GOBIN=$(@D) go install -tags remove_all_sd github.com/prometheus/prometheus/cmd/promtool@$(PROMTOOL_VERSION)

##@ Test

.PHONY: envtest
envtest: ## Build kube-apiserver, etcd, kube-controller-manager and kube-scheduler into bin/k8s/ (cached).
	K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/envtest.sh

.PHONY: test
test: envtest $(PROMTOOL) $(VALIDATE_KREW) ## Run every test suite, then each fuzz target for FUZZTIME.
	go test $(GO_TEST_FLAGS) -race -count=1 -timeout $(GO_TEST_TIMEOUT) ./...
	$(MAKE) fuzz

.PHONY: test-browser
test-browser: ## Run the pages' browser tests alone (needs chromium: apt-get install -y chromium).
	go test -count=1 ./test/browser/...

# Fuzz targets run by `make fuzz` (and `make test`): space-separated ./pkg/path:FuzzName.
FUZZ_TARGETS += ./shop/catalog:FuzzParseListQuery
FUZZ_TARGETS += ./shop/api:FuzzSearchAndList
FUZZ_TARGETS += ./shop/api:FuzzOrderRequest
FUZZ_TARGETS += ./shop/images:FuzzProcess
FUZZTIME ?= 10s

.PHONY: fuzz
fuzz: ## Run each of FUZZ_TARGETS for FUZZTIME (default 10s).
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$name in $$pkg for $(FUZZTIME)"; \
		go test -run='^$$' -fuzz="^$${name}$$" -fuzztime=$(FUZZTIME) $$pkg; \
	done

##@ Demo

# Flags for the demo program, e.g. DEMO_FLAGS='-ack-delay=5s' (bin/demo -h lists them).
DEMO_FLAGS ?=

.PHONY: demo
demo: envtest demo-build ## Run the whole system on this machine with the sample Storefront; Ctrl-C stops it.
	bin/demo $(DEMO_FLAGS)

.PHONY: demo-build
demo-build: ## Build what the demo runs: bin/shop, bin/shop-badmigration (-tags badmigration) and bin/demo.
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/shop ./shop/cmd/shop
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -tags badmigration -o bin/shop-badmigration ./shop/cmd/shop
	go build -o bin/demo ./hack/demo

##@ Benchmarks

BENCH_SHOP_FLAGS ?=
BENCH_OPERATOR_FLAGS ?=

.PHONY: bench
bench: bench-shop bench-operator ## Run every benchmark (docs/architecture.md#performance-targets).

.PHONY: bench-shop
bench-shop: ## Load-test the shop against a bare Gin baseline; writes docs/benchmarks.md (Shop).
	go run ./test/bench/shopbench -write docs/benchmarks.md $(BENCH_SHOP_FLAGS)

.PHONY: bench-operator
bench-operator: envtest ## 500 Storefronts on envtest with the stand-ins; writes docs/benchmarks.md (Operator).
	go run ./test/bench/operatorbench -write docs/benchmarks.md $(BENCH_OPERATOR_FLAGS)

##@ Build

.PHONY: build
build: ## Build the operator, the shop and the kubectl plugin into bin/.
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/manager .
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/shop ./shop/cmd/shop
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/kubectl-storefront ./cmd/kubectl-storefront

.PHONY: kubectl-storefront
kubectl-storefront: ## Build the kubectl plugin into bin/kubectl-storefront (put bin/ on PATH: kubectl storefront ...).
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/kubectl-storefront ./cmd/kubectl-storefront

.PHONY: run
run: manifests generate ## Run the operator against the cluster of the current kubeconfig.
	go run . --metrics-bind-address=:8082 --health-probe-bind-address=:8083

##@ Delivery

CHART_DIR ?= charts/storefront-operator
# Image tags drop the v of a Git tag (v0.2.0 -> 0.2.0), as the chart's appVersion does.
IMAGE_TAG ?= $(patsubst v%,%,$(VERSION))
IMG ?= ghcr.io/storefront-operator/storefront-operator:$(IMAGE_TAG)
SHOP_IMG ?= ghcr.io/storefront-operator/shop:$(IMAGE_TAG)
CONTAINER_TOOL ?= docker
# docker-build builds for PLATFORM, the nodes' architecture (hack/eks runs x86_64 nodes;
# linux/arm64 for Graviton), whatever machine it runs on: the Dockerfiles cross-compile
# for BuildKit's TARGETOS/TARGETARCH. docker-buildx builds and pushes all of PLATFORMS.
PLATFORM ?= linux/amd64
PLATFORMS ?= linux/amd64,linux/arm64
DOCKER_INSTALL_HINT := install Docker Engine (https://docs.docker.com/engine/install/, or apt-get install -y docker.io) on a machine that may run it, or set CONTAINER_TOOL=podman

.PHONY: chart-sync
chart-sync: ## Copy the generated CRD and RBAC rules into the Helm chart (run by manifests).
	go run ./hack/chartsync

.PHONY: api-docs
api-docs: ## Generate docs/api-reference.md from the CRD (run by manifests).
	go run ./hack/apidocs

.PHONY: chart-package
chart-package: ## Package the Helm chart into bin/charts/ with version and appVersion $(VERSION).
	go run ./hack/chartpackage --chart $(CHART_DIR) --version $(VERSION) --out bin/charts

.PHONY: docker-build
docker-build: ## Build the operator image $(IMG) and the shop image $(SHOP_IMG) for $(PLATFORM) (needs a Docker engine).
	@command -v $(CONTAINER_TOOL) >/dev/null || { echo "$(CONTAINER_TOOL) not found: $(DOCKER_INSTALL_HINT)"; exit 1; }
	$(CONTAINER_TOOL) build --platform $(PLATFORM) --build-arg VERSION=$(VERSION) -t $(IMG) -f Dockerfile .
	$(CONTAINER_TOOL) build --platform $(PLATFORM) --build-arg VERSION=$(VERSION) -t $(SHOP_IMG) -f shop/Dockerfile .

.PHONY: docker-push
docker-push: ## Push $(IMG) and $(SHOP_IMG) (after docker-build and a registry login).
	@command -v $(CONTAINER_TOOL) >/dev/null || { echo "$(CONTAINER_TOOL) not found: $(DOCKER_INSTALL_HINT)"; exit 1; }
	$(CONTAINER_TOOL) push $(IMG)
	$(CONTAINER_TOOL) push $(SHOP_IMG)

.PHONY: docker-buildx
docker-buildx: ## Build and push both images for $(PLATFORMS) with docker buildx.
	@command -v docker >/dev/null || { echo "docker not found: $(DOCKER_INSTALL_HINT)"; exit 1; }
	docker buildx build --push --platform $(PLATFORMS) --build-arg VERSION=$(VERSION) -t $(IMG) -f Dockerfile .
	docker buildx build --push --platform $(PLATFORMS) --build-arg VERSION=$(VERSION) -t $(SHOP_IMG) -f shop/Dockerfile .
