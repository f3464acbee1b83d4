#!/usr/bin/env bash
# Builds the Kubernetes test bed once: kube-apiserver, kube-controller-manager,
# kube-scheduler and etcd from the tools module in testbed/, kwok and the KubeRay
# operator with `go install`, all from the Go module proxy. The binaries, the
# KubeRay CRDs and kwok's stage files go to the user cache, keyed by a hash of
# the pins, and .testbed links to them. A second run (or a fresh clone) takes
# well under a second. Safe to re-run; a failed build leaves nothing behind.
set -euo pipefail
cd "$(dirname "$0")/.."

KWOK_VERSION=v0.8.0
# v1.7.0 is not served by the Go module proxy (403 "not available"); v1.6.2 is the fallback.
KUBERAY_VERSION=v1.6.2
CACHE="${RAY_MCP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ray-mcp}"

if ! command -v go >/dev/null 2>&1; then
  echo "setup-testbed: Go is not installed; the Kubernetes test bed needs Go 1.26 (https://go.dev/dl/)." >&2
  exit 1
fi

K8S_VERSION=$(awk '$1=="k8s.io/kubernetes"{print $2}' testbed/go.mod)
ETCD_VERSION=$(awk '$1=="go.etcd.io/etcd/server/v3"{print $2}' testbed/go.mod | head -1)
[ -n "$ETCD_VERSION" ] || ETCD_VERSION=$(awk '$1=="require" && $2=="go.etcd.io/etcd/server/v3"{print $3}' testbed/go.mod)
KEY=$( (cat testbed/go.mod testbed/go.sum; echo "$KWOK_VERSION $KUBERAY_VERSION"; go env GOVERSION) | sha256sum | cut -c1-12)
DEST="$CACHE/testbed/k8s-$K8S_VERSION-$KEY"

if [ ! -f "$DEST/.complete" ]; then
  echo "setup-testbed: building Kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION and kuberay-operator $KUBERAY_VERSION into $DEST (a cold build takes a while)" >&2
  TMP="$DEST.tmp.$$"
  trap 'rm -rf "$TMP"' EXIT
  rm -rf "$TMP" && mkdir -p "$TMP/bin" "$TMP/crds" "$TMP/stages"
  export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
  LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$(echo "$K8S_VERSION" | cut -d. -f2)"
  (cd testbed && go build -trimpath -ldflags "$LDFLAGS" -o "$TMP/bin/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler)
  (cd testbed && go build -trimpath -ldflags "-s -w" -o "$TMP/bin/etcd" go.etcd.io/etcd/server/v3)
  GOBIN="$TMP/bin" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
  GOBIN="$TMP/bin" go install -trimpath -ldflags "-s -w" "github.com/ray-project/kuberay/ray-operator@$KUBERAY_VERSION"
  mv "$TMP/bin/ray-operator" "$TMP/bin/kuberay-operator"
  OPERATOR_DIR=$(go mod download -json "github.com/ray-project/kuberay/ray-operator@$KUBERAY_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  KWOK_DIR=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  cp "$OPERATOR_DIR"/config/crd/bases/*.yaml "$TMP/crds/"
  # kwok's "fast" stages: pods go Pending -> Running+Ready at once (the "general" set needs more stages).
  for s in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease pod/fast/pod-ready pod/fast/pod-complete pod/fast/pod-delete; do
    cp "$KWOK_DIR/kustomize/stage/$s.yaml" "$TMP/stages/"
  done
  chmod -R u+w "$TMP"
  printf '{"kubernetes":"%s","etcd":"%s","kwok":"%s","kuberay":"%s"}\n' "$K8S_VERSION" "$ETCD_VERSION" "$KWOK_VERSION" "$KUBERAY_VERSION" > "$TMP/versions.json"
  touch "$TMP/.complete"
  rm -rf "$DEST" && mkdir -p "$(dirname "$DEST")" && mv "$TMP" "$DEST"
  trap - EXIT
fi

if [ "$(readlink .testbed 2>/dev/null)" != "$DEST" ]; then
  if [ -e .testbed ] && [ ! -L .testbed ]; then
    echo "setup-testbed: .testbed exists and is not a link; leaving it. The test bed is in $DEST." >&2
    exit 0
  fi
  ln -sfn "$DEST" .testbed
fi
