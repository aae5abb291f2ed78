#!/usr/bin/env bash
# kwid's test command (README, CI): unit tests, then every test again with a real control
# plane (etcd + kube-apiserver + kube-controller-manager built from Go modules, cached under
# ~/.cache/kwid) so the integration tests run instead of skipping.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need=()
for tool in curl openssl; do command -v "$tool" >/dev/null || need+=("$tool"); done
if ((${#need[@]})); then
	echo "test.sh: installing ${need[*]}" >&2
	sudo=""; [[ $(id -u) == 0 ]] || sudo=sudo
	$sudo apt-get update -qq && $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

echo "== go vet" >&2
go vet ./...
echo "== unit tests" >&2
go test -short ./...

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
go test -count=1 ./...
