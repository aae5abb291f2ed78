#!/usr/bin/env bash
# Collect the AWS side of workload identity for one EKS cluster, as kwid --cloud reads it
# (docs/cloud.md). Read-only: iam:Get*/List*, eks:Describe*/List*, ec2:DescribeLaunchTemplateVersions.
#
#   hack/kwid-cloud-collect.sh --eks-cluster NAME [--region R] [--context CTX] -o DIR
set -euo pipefail

cluster="" region="" context="" out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --eks-cluster) cluster="$2"; shift 2 ;;
    --region) region="$2"; shift 2 ;;
    --context) context="$2"; shift 2 ;;
    -o|--output) out="$2"; shift 2 ;;
    -h|--help) sed -n 2,6p "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n "$cluster" && -n "$out" ]] || { echo "usage: $0 --eks-cluster NAME [--region R] [--context CTX] -o DIR" >&2; exit 2; }
for tool in aws kubectl jq; do command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }; done

aws_() { aws ${region:+--region "$region"} --output json "$@"; }
kubectl_() { kubectl ${context:+--context "$context"} "$@"; }
safe() { tr -c 'A-Za-z0-9._@+=-' '_' <<<"$1"; }

mkdir -p "$out"/{eks/associations,eks/access-entries,iam/roles,iam/policies,ec2}
aws_ eks describe-cluster --name "$cluster" >"$out/eks/describe-cluster.json"

roles=()
aws_ eks list-pod-identity-associations --cluster-name "$cluster" >"$out/eks/list-pod-identity-associations.json"
for id in $(jq -r '.associations[].associationId' "$out/eks/list-pod-identity-associations.json"); do
  f="$out/eks/associations/$id.json"
  aws_ eks describe-pod-identity-association --cluster-name "$cluster" --association-id "$id" >"$f"
  roles+=("$(jq -r '.association.roleArn' "$f")")
done

if [[ "$(jq -r '.cluster.accessConfig.authenticationMode // "CONFIG_MAP"' "$out/eks/describe-cluster.json")" != CONFIG_MAP ]]; then
  aws_ eks list-access-entries --cluster-name "$cluster" >"$out/eks/list-access-entries.json"
  for arn in $(jq -r '.accessEntries[]' "$out/eks/list-access-entries.json"); do
    n="$(safe "${arn##*/}")"
    aws_ eks describe-access-entry --cluster-name "$cluster" --principal-arn "$arn" >"$out/eks/access-entries/$n.json"
    aws_ eks list-associated-access-policies --cluster-name "$cluster" --principal-arn "$arn" >"$out/eks/access-entries/$n.policies.json"
  done
fi

# Roles named by IRSA annotations, and by Pod Identity associations.
while read -r arn; do [[ -n "$arn" ]] && roles+=("$arn"); done < <(
  kubectl_ get serviceaccounts -A -o json | jq -r '.items[].metadata.annotations["eks.amazonaws.com/role-arn"] // empty')
for arn in $(printf '%s\n' "${roles[@]}" | sort -u); do
  name="${arn##*/}"
  d="$out/iam/roles/$(safe "$name")"
  mkdir -p "$d"
  aws_ iam get-role --role-name "$name" >"$d/get-role.json" || { echo "skipped role $arn" >&2; rm -rf "$d"; continue; }
  aws_ iam list-attached-role-policies --role-name "$name" >"$d/list-attached-role-policies.json"
  for p in $(aws_ iam list-role-policies --role-name "$name" | jq -r '.PolicyNames[]'); do
    aws_ iam get-role-policy --role-name "$name" --policy-name "$p" >"$d/get-role-policy-$(safe "$p").json"
  done
  for parn in $(jq -r '.AttachedPolicies[].PolicyArn | select(startswith("arn:aws:iam::aws:") | not)' "$d/list-attached-role-policies.json"); do
    pd="$out/iam/policies/$(safe "${parn##*/}")"
    [[ -d "$pd" ]] && continue
    mkdir -p "$pd"
    aws_ iam get-policy --policy-arn "$parn" >"$pd/get-policy.json"
    v="$(jq -r '.Policy.DefaultVersionId' "$pd/get-policy.json")"
    aws_ iam get-policy-version --policy-arn "$parn" --version-id "$v" >"$pd/get-policy-version.json"
  done
done

# Launch templates of the nodes (managed node groups label them).
kubectl_ get nodes -o json | jq -r '.items[].metadata.labels | select(.["eks.amazonaws.com/sourceLaunchTemplateId"]) |
  .["eks.amazonaws.com/sourceLaunchTemplateId"] + " " + .["eks.amazonaws.com/sourceLaunchTemplateVersion"]' | sort -u |
while read -r lt v; do
  aws_ ec2 describe-launch-template-versions --launch-template-id "$lt" --versions "$v" >"$out/ec2/$lt-$v.json"
done
echo "wrote $out; run: kwid scan ${context:+--context $context} --cloud $out" >&2
