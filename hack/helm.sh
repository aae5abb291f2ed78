#!/usr/bin/env bash
# Helm for kwid's chart work, built from the Go module proxy and cached (helm is not a Debian
# package). `hack/helm.sh path` prints the binary (building it first when missing); any other
# arguments run helm.
set -euo pipefail
version=v3.22.0
bin=${XDG_CACHE_HOME:-$HOME/.cache}/kwid/helm/$version/helm
if [[ ! -x $bin ]]; then
	echo "helm.sh: building helm $version (once, cached in ${bin%/helm})" >&2
	mkdir -p "${bin%/helm}"
	(cd "$(mktemp -d)" && GOBIN=${bin%/helm} GOFLAGS=-mod=mod go install "helm.sh/helm/v3/cmd/helm@$version")
fi
if [[ ${1:-} == path ]]; then
	echo "$bin"
	exit 0
fi
exec "$bin" "$@"
