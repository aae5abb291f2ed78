#!/usr/bin/env bash
# kwid's test command (README, CI): unit tests, then every test again with a real control
# plane (etcd + kube-apiserver + kube-controller-manager built from Go modules, cached under
# ~/.cache/kwid) so the integration tests run instead of skipping.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Debian packages the tests use: curl and openssl for the control plane, Chromium for the
# HTML report's browser test.
need=()
for tool in curl openssl chromium; do command -v "$tool" >/dev/null || need+=("$tool"); done
if ((${#need[@]})); then
	echo "test.sh: installing ${need[*]}" >&2
	sudo=""; [[ $(id -u) == 0 ]] || sudo=sudo
	$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
export KWID_CHROMIUM=${KWID_CHROMIUM:-$(command -v chromium)}

# The SARIF 2.1.0 JSON schema, from the npm registry (the package ships it), cached.
assets=${XDG_CACHE_HOME:-$HOME/.cache}/kwid/assets
sarif_schema=$assets/sarif-2.1.0-rtm.5.json
if [[ ! -s $sarif_schema ]]; then
	mkdir -p "$assets"
	tmp=$(mktemp -d)
	if (cd "$tmp" && npm pack --silent @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null && tar xzf ./*.tgz); then
		cp "$tmp/package/lib/schemas/sarif-2.1.0-rtm.5.json" "$sarif_schema"
	else
		echo "test.sh: WARNING: could not fetch the SARIF schema from the npm registry; SARIF schema validation will be skipped" >&2
	fi
	rm -rf "$tmp"
fi
[[ -s $sarif_schema ]] && export KWID_SARIF_SCHEMA=$sarif_schema

# Helm, for the chart's tests (not a Debian package): built from the Go module proxy, cached.
export KWID_HELM=${KWID_HELM:-$(hack/helm.sh path)}

echo "== go vet" >&2
go vet ./...
echo "== unit tests" >&2
go test -short ./...
echo "== race detector: the webhook's concurrent decisions over shared, pooled state, and checks sharing a scan's memos" >&2
go test -race -short ./internal/admission ./internal/clusterstate ./internal/checks

echo "== control plane" >&2
hack/controlplane.sh build
dir=$(mktemp -d -t kwid-ci-XXXXXX)
cleanup() { hack/controlplane.sh stop "$dir" || true; rm -rf "$dir"; }
trap cleanup EXIT
hack/controlplane.sh start "$dir"
set -a
# shellcheck disable=SC1091
. "$dir/env"
set +a

echo "== all tests, with the control plane" >&2
# One package at a time: the packages share the control plane, and some tests change
# cluster-wide RBAC or admission policies that others observe.
go test -count=1 -p 1 ./...
