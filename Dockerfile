# syntax=docker/dockerfile:1
# The Storefront operator image: one static binary, /manager, on distroless as nonroot.
# Build from the repository root (make docker-build):
#   docker build --platform linux/amd64 --build-arg VERSION=0.2.0 -t <registry>/storefront-operator:0.2.0 .
ARG GO_VERSION=1.26.8

# The builder runs on the build machine's platform and cross-compiles for the target, so
# multi-platform builds (make docker-buildx) need no emulation.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS builder
# BuildKit sets these from --platform; a default here would override it and put amd64
# binaries into the arm64 image.
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /workspace
# Modules first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
# The operator is main.go, api/ and controllers/: it imports nothing from shop/
# (docs/architecture.md#dependency-rules).
COPY main.go ./
COPY api/ api/
COPY controllers/ controllers/
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/manager .

FROM gcr.io/distroless/static:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="storefront-operator" \
      org.opencontainers.image.description="Kubernetes operator that runs online shops" \
      org.opencontainers.image.source="https://github.com/storefront-operator/storefront" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
WORKDIR /
COPY --from=builder /out/manager /manager
# Numeric, so that the kubelet can verify runAsNonRoot without resolving a user name.
USER 65532:65532
ENTRYPOINT ["/manager"]
