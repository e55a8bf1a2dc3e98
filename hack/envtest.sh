#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver, etcd) from their Go modules, because
# no prebuilt envtest download is reachable from this environment, and the
# kube-controller-manager and kube-scheduler the local cluster (test/localcluster) runs
# beside it. The result is cached under bin/k8s/<version>/: a second run only checks the
# stamp and exits.
#
# Usage: hack/envtest.sh [--print-dir]
#   K8S_VERSION  (default 1.37.2)   kube-apiserver, kube-controller-manager and
#                                   kube-scheduler from k8s.io/kubernetes v$K8S_VERSION
#   ETCD_VERSION (default 3.6.16)   etcd from go.etcd.io/etcd/server/v3
# On an ordinary machine `setup-envtest use $K8S_VERSION` gives kube-apiserver and etcd;
# the other two come from the same release (dl.k8s.io/v$K8S_VERSION/bin/linux/amd64/).
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.37.2}
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
STAGING_VERSION=0.${K8S_VERSION#1.}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/bin/k8s/$K8S_VERSION"
stamp="$out/.stamp"
k8s_cmds=(kube-apiserver kube-controller-manager kube-scheduler)
want="kubernetes=$K8S_VERSION(${k8s_cmds[*]}) etcd=$ETCD_VERSION go=$(go env GOVERSION)"

if [[ "${1:-}" == "--print-dir" ]]; then
  echo "$out"
  exit 0
fi

have_all() {
  local b
  for b in "${k8s_cmds[@]}" etcd; do [[ -x "$out/$b" ]] || return 1; done
}

if have_all && [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "envtest binaries up to date in $out"
  exit 0
fi

mkdir -p "$out"
export CGO_ENABLED=0 GOFLAGS=-mod=mod GOWORK=off

# build_kubernetes builds every command of k8s_cmds in one `go build`, so that the
# packages they share compile once.
build_kubernetes() {
  local work="$root/bin/k8s-build/kubernetes"
  mkdir -p "$work"
  # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
  # ./staging paths that do not exist in the module zip; map each one to its release.
  local gomod
  gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  {
    echo "module storefront.local/envtest-kubernetes"
    echo
    echo "go $(go env GOVERSION | sed 's/^go//; s/\.[0-9]*$//')"
    echo
    echo "require k8s.io/kubernetes v$K8S_VERSION"
    echo
    echo "replace ("
    sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 v'"$STAGING_VERSION"'#p' "$gomod"
    echo ")"
  } >"$work/go.mod"
  {
    echo "//go:build tools"
    echo
    echo "package tools"
    echo
    echo "import ("
    local c
    for c in "${k8s_cmds[@]}"; do echo "	_ \"k8s.io/kubernetes/cmd/$c\""; done
    echo ")"
  } >"$work/tools.go"
  local pkgs=()
  local c
  for c in "${k8s_cmds[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
  local pkg=k8s.io/component-base/version
  local date
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  (
    cd "$work"
    go mod tidy -e >/dev/null 2>&1 || true
    go get "${pkgs[@]/%/@v$K8S_VERSION}"
    go build -trimpath -o "$out/" -ldflags "-s -w \
      -X $pkg.gitVersion=v$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=${STAGING_VERSION#0.} \
      -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date \
      -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION" \
      "${pkgs[@]}"
  )
}

build_etcd() {
  local work="$root/bin/k8s-build/etcd"
  mkdir -p "$work"
  cat >"$work/go.mod" <<GOMOD
module storefront.local/envtest-etcd

go $(go env GOVERSION | sed 's/^go//; s/\.[0-9]*$//')

require go.etcd.io/etcd/server/v3 v$ETCD_VERSION
GOMOD
  (
    cd "$work"
    go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION"
    go build -trimpath -o "$out/etcd" -ldflags "-s -w" go.etcd.io/etcd/server/v3
  )
}

start=$(date +%s)
echo "Building ${k8s_cmds[*]} v$K8S_VERSION from k8s.io/kubernetes (several minutes the first time)"
build_kubernetes
echo "Building etcd v$ETCD_VERSION from go.etcd.io/etcd/server/v3"
build_etcd
echo "$want" >"$stamp"
for b in "${k8s_cmds[@]}"; do "$out/$b" --version; done
# Not `| head -1`: head exits after one line and, under pipefail, etcd's SIGPIPE fails the build.
"$out/etcd" --version | sed -n 1p
echo "envtest binaries ready in $out ($(( $(date +%s) - start ))s)"
