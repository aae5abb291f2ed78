#!/usr/bin/env bash
# Renders deploy/manifests/kwid.yaml (plain manifests, namespace kwid) from the Helm chart.
# The chart's tests fail when the committed file differs from a fresh rendering.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
{
	echo "# Rendered from deploy/helm/kwid by hack/render-manifests.sh: do not edit by hand."
	echo "# Apply: kubectl create namespace kwid && kubectl apply --server-side -f deploy/manifests/kwid.yaml"
	echo "# The webhook's TLS: create the kubernetes.io/tls Secret kwid-webhook-tls in namespace kwid and"
	echo "# set caBundle in the ValidatingWebhookConfiguration (the Helm chart generates both)."
	hack/helm.sh template kwid deploy/helm/kwid --namespace kwid --include-crds --set webhook.tls.mode=secret
} >deploy/manifests/kwid.yaml
