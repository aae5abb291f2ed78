package usage

import (
	"bufio"
	"fmt"
	"io"
)

// WriteSynthetic writes a deterministic synthetic audit log of at least size bytes: many
// ServiceAccounts in many namespaces, a realistic mix of verbs, resources, names, stages,
// decisions and status codes. It is for benchmarks (hack/gen-auditlog).
func WriteSynthetic(w io.Writer, size int64) (events int, err error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	type res struct{ group, resource, sub string }
	resources := []res{{"", "pods", ""}, {"", "configmaps", ""}, {"", "secrets", ""}, {"apps", "deployments", ""},
		{"", "pods", "log"}, {"coordination.k8s.io", "leases", ""}, {"", "events", ""}, {"batch", "jobs", ""}}
	verbs := []string{"get", "list", "watch", "create", "update", "patch", "delete", "get", "get", "list"}
	var written int64
	x := uint64(88172645463325252)
	rnd := func(n int) int { x ^= x << 13; x ^= x >> 7; x ^= x << 17; return int(x % uint64(n)) }
	for i := 0; written < size; i++ {
		ns := fmt.Sprintf("team-%03d", rnd(200))
		sa := fmt.Sprintf("app-%d", rnd(10))
		r := resources[rnd(len(resources))]
		verb := verbs[rnd(len(verbs))]
		name := ""
		if verb != "list" && verb != "watch" && verb != "create" {
			name = fmt.Sprintf("obj-%d", rnd(50))
		}
		path := "/api/v1"
		if r.group != "" {
			path = "/apis/" + r.group + "/v1"
		}
		uri := path + "/namespaces/" + ns + "/" + r.resource
		if name != "" {
			uri += "/" + name
		}
		if r.sub != "" {
			uri += "/" + r.sub
		}
		decision, code, reason := "allow", 200, fmt.Sprintf(`RBAC: allowed by RoleBinding \"%s/%s\" of Role \"%s\" to ServiceAccount \"%s/%s\"`, sa, ns, sa, sa, ns)
		if rnd(20) == 0 {
			decision, code, reason = "forbid", 403, ""
		} else if rnd(25) == 0 {
			code = 404
		}
		id := fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)
		sec := i % 86400
		for _, stage := range []string{"RequestReceived", "ResponseComplete"} {
			n, err := fmt.Fprintf(bw, `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"%s","stage":"%s","requestURI":"%s","verb":"%s",`+
				`"user":{"username":"system:serviceaccount:%s:%s","uid":"%08x-1111-4000-8000-000000000000","groups":["system:serviceaccounts","system:serviceaccounts:%s","system:authenticated"],`+
				`"extra":{"authentication.kubernetes.io/credential-id":["JTI=%08x-2222"],"authentication.kubernetes.io/node-name":["node-%d"],"authentication.kubernetes.io/pod-name":["%s-%d"]}},`+
				`"sourceIPs":["10.1.%d.%d"],"userAgent":"app/v1.2.3 (linux/amd64) kubernetes/abcdef","objectRef":{"resource":"%s","namespace":"%s","name":"%s","apiGroup":"%s","apiVersion":"v1","subresource":"%s"},`+
				`"responseStatus":{"metadata":{},"code":%d},"requestReceivedTimestamp":"2026-01-01T%02d:%02d:%02d.000000Z","stageTimestamp":"2026-01-01T%02d:%02d:%02d.000100Z",`+
				`"annotations":{"authorization.k8s.io/decision":"%s","authorization.k8s.io/reason":"%s"}}`+"\n",
				id, stage, uri, verb, ns, sa, i%5000, ns, i%5000, rnd(100), sa, rnd(3), rnd(256), rnd(256), r.resource, ns, name, r.group, r.sub,
				code, sec/3600, sec/60%60, sec%60, sec/3600, sec/60%60, sec%60, decision, reason)
			if err != nil {
				return events, err
			}
			written += int64(n)
			events++
		}
	}
	return events, bw.Flush()
}
