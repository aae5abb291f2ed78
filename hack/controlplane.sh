#!/usr/bin/env bash
# A real Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager) on 127.0.0.1,
# built from Go modules, for kwid's integration tests. See docs/testing.md.
#
#   hack/controlplane.sh build            build (or reuse) the binaries for $KWID_K8S_VERSION
#   hack/controlplane.sh start DIR        start in DIR; writes DIR/env (KWID_TEST_* variables)
#   hack/controlplane.sh stop DIR         stop what start DIR started (only those PIDs)
#   hack/controlplane.sh bin              print the binary directory
#
# Binaries are cached per version under ${XDG_CACHE_HOME:-$HOME/.cache}/kwid/k8s/<version>/.
set -euo pipefail

K8S_VERSION=${KWID_K8S_VERSION:-1.36.3}
ETCD_VERSION=3.5.21
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/kwid/k8s/v${K8S_VERSION}
bin=$cache/bin

log() { echo "controlplane: $*" >&2; }

build() {
	if [[ -x $bin/kube-apiserver && -x $bin/kube-controller-manager && -x $bin/kubectl && -x $bin/etcd ]]; then
		log "using cached binaries in $bin"
		return
	fi
	mkdir -p "$bin"
	local major=${K8S_VERSION%%.*} rest=${K8S_VERSION#*.}
	local minor=${rest%%.*}
	local ld="-s -w"
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ld+=" -X $pkg.gitVersion=v${K8S_VERSION} -X $pkg.gitMajor=${major} -X $pkg.gitMinor=${minor}"
		ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
	done
	log "building Kubernetes v${K8S_VERSION} (about 10 minutes on 2 cores the first time)"
	(cd "$here/controlplane" && GOFLAGS=-mod=mod go build -trimpath -ldflags "$ld" -o "$bin/" \
		k8s.io/kubernetes/cmd/kube-apiserver \
		k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kubectl)
	log "building etcd v${ETCD_VERSION}"
	(cd "$here/controlplane/etcd" && GOFLAGS=-mod=mod go build -trimpath -ldflags "-s -w" -o "$bin/etcd" .)
	log "binaries in $bin"
}

free_port() {
	python3 - <<'EOF' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
EOF
}

wait_for() { # url, cafile, token, what, pid
	local i
	for i in $(seq 1 120); do
		if ! kill -0 "$5" 2>/dev/null; then
			log "$4 exited; see its log"
			return 1
		fi
		if curl -fsS --cacert "$2" -H "Authorization: Bearer $3" "$1" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.5
	done
	log "$4 not ready after 60s"
	return 1
}

start() {
	local dir=$1
	build
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	local etcd_port peer_port api_port token
	etcd_port=$(free_port)
	peer_port=$(free_port)
	api_port=$(free_port)
	token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
	mkdir -p "$dir/etcd" "$dir/certs"
	openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
	openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
	echo "$token,kwid-admin,kwid-admin,system:masters" >"$dir/tokens.csv"

	# etcd reads ETCD_* variables as flags: run it with none.
	env -u ETCD_VERSION "$bin/etcd" --name kwid --data-dir "$dir/etcd" \
		--listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
		--listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
		--initial-cluster "kwid=http://127.0.0.1:$peer_port" --unsafe-no-fsync --log-level error \
		>"$dir/etcd.log" 2>&1 &
	echo $! >"$dir/etcd.pid"

	"$bin/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
		--cert-dir "$dir/certs" --token-auth-file "$dir/tokens.csv" \
		--authorization-mode Node,RBAC \
		--service-account-issuer "https://kwid.test.local" \
		--service-account-key-file "$dir/sa.pub" --service-account-signing-key-file "$dir/sa.key" \
		--service-cluster-ip-range 10.0.0.0/24 --endpoint-reconciler-type none \
		--audit-policy-file "$here/controlplane/audit-policy.yaml" --audit-log-path "$dir/audit.log" \
		>"$dir/apiserver.log" 2>&1 &
	echo $! >"$dir/apiserver.pid"

	local ca=$dir/certs/apiserver.crt i
	for i in $(seq 1 60); do [[ -s $ca ]] && break; sleep 0.5; done
	wait_for "https://127.0.0.1:$api_port/readyz" "$ca" "$token" kube-apiserver "$(cat "$dir/apiserver.pid")"

	cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: kwid-test
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $ca
users:
- name: kwid-admin
  user:
    token: $token
contexts:
- name: kwid-test
  context: {cluster: kwid-test, user: kwid-admin}
current-context: kwid-test
EOF

	"$bin/kube-controller-manager" --kubeconfig "$dir/kubeconfig" --leader-elect=false --secure-port 0 \
		--service-account-private-key-file "$dir/sa.key" --root-ca-file "$ca" \
		--controllers serviceaccount-controller,serviceaccount-token-controller,namespace-controller,garbage-collector-controller,root-ca-certificate-publisher-controller,clusterrole-aggregation-controller \
		>"$dir/controller-manager.log" 2>&1 &
	echo $! >"$dir/controller-manager.pid"

	# Ready for tests once the default ServiceAccount exists in namespace default.
	for i in $(seq 1 120); do
		if "$bin/kubectl" --kubeconfig "$dir/kubeconfig" get serviceaccount default -n default >/dev/null 2>&1; then
			break
		fi
		sleep 0.5
	done

	cat >"$dir/env" <<EOF
KWID_TEST_KUBECONFIG=$dir/kubeconfig
KWID_TEST_KUBECTL=$bin/kubectl
KWID_TEST_AUDIT_LOG=$dir/audit.log
KWID_TEST_CONTROLPLANE_DIR=$dir
EOF
	log "ready: export \$(cat $dir/env)"
}

stop() {
	local dir=$1 f pid
	for f in controller-manager apiserver etcd; do
		[[ -f $dir/$f.pid ]] || continue
		pid=$(cat "$dir/$f.pid")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
		kill -9 "$pid" 2>/dev/null || true
		rm -f "$dir/$f.pid"
	done
}

case ${1:-} in
build) build ;;
start) start "${2:?usage: $0 start DIR}" ;;
stop) stop "${2:?usage: $0 stop DIR}" ;;
bin) echo "$bin" ;;
*)
	echo "usage: $0 build|start DIR|stop DIR|bin" >&2
	exit 2
	;;
esac
