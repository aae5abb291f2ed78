package clusterstate_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"k8s.io/client-go/rest"

	"github.com/kwid-dev/kwid/internal/clusterstate"
	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/testcluster"
)

// eventually retries f until it returns "" or the deadline passes, and returns the last
// result: informers lag the API server by a watch event.
func eventually(d time.Duration, f func() string) string {
	deadline := time.Now().Add(d)
	for {
		msg := f()
		if msg == "" || time.Now().After(deadline) {
			return msg
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLiveSnapshotEqualsLoadLive: the informer-backed Snapshot equals what a one-shot live
// scan collects on the same cluster, Secret metadata only (a Secret applied with kubectl
// carries its data in the last-applied annotation, which must not be kept), and it follows
// changes, calling OnChange.
func TestLiveSnapshotEqualsLoadLive(t *testing.T) {
	c := testcluster.Start(t)
	ns := c.Namespace(t, "kwid-state")
	c.Kubectl(t, `apiVersion: v1
kind: ServiceAccount
metadata: {name: app}
---
apiVersion: v1
kind: Secret
metadata:
  name: app-token
  annotations: {kubernetes.io/service-account.name: app}
type: kubernetes.io/service-account-token
---
apiVersion: v1
kind: Secret
metadata: {name: opaque}
stringData: {password: hunter2}
---
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  serviceAccountName: app
  containers: [{name: c, image: nginx}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: app-view}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: app}]
`, "apply", "-n", ns, "-f", "-")

	for _, scope := range []string{ns, ""} {
		t.Run(fmt.Sprintf("namespace=%q", scope), func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			s, err := clusterstate.New(c.Config, clusterstate.Options{Namespace: scope})
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			changed := map[string]bool{}
			s.OnChange(func(k inventory.Kind, namespace, name string) {
				mu.Lock()
				changed[string(k)+" "+namespace+"/"+name] = true
				mu.Unlock()
			})
			if err := s.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if !s.Synced() {
				t.Fatal("Start returned but not synced")
			}
			compare := func() string {
				want, err := inventory.LoadLive(ctx, c.Config, inventory.LiveOptions{Options: inventory.Options{Namespace: scope}})
				if err != nil {
					return err.Error()
				}
				return cmp.Diff(want, s.Snapshot(), cmpopts.EquateEmpty())
			}
			if diff := eventually(10*time.Second, compare); diff != "" {
				t.Fatalf("State.Snapshot differs from LoadLive (-LoadLive +State):\n%s", diff)
			}
			got := s.Snapshot()
			for _, sec := range got.Secrets {
				if sec.Data != nil || sec.Annotations[inventory.LastAppliedAnnotation] != "" {
					t.Errorf("Secret %s/%s: data or last-applied annotation kept", sec.Namespace, sec.Name)
				}
				if sec.Name == "opaque" {
					t.Errorf("Secret %s/opaque (not a token) kept", sec.Namespace)
				}
			}
			if sa := got.ServiceAccount(ns, "app"); sa == nil {
				t.Errorf("ServiceAccount %s/app missing", ns)
			}

			// A change after the sync reaches the caches and the callbacks.
			name := "added-" + fmt.Sprint(len(scope))
			c.Kubectl(t, "", "create", "serviceaccount", name, "-n", ns)
			key := "ServiceAccount " + ns + "/" + name
			if msg := eventually(10*time.Second, func() string {
				mu.Lock()
				defer mu.Unlock()
				if !changed[key] {
					return "OnChange not called for " + key
				}
				if s.Snapshot().ServiceAccount(ns, name) == nil {
					return key + " not in Snapshot"
				}
				return ""
			}); msg != "" {
				t.Error(msg)
			}
			if diff := eventually(10*time.Second, compare); diff != "" {
				t.Errorf("after a change, State.Snapshot differs from LoadLive (-LoadLive +State):\n%s", diff)
			}
			if n := s.Counts()[inventory.ServiceAccounts]; n < 3 {
				t.Errorf("Counts[ServiceAccount] = %d, want at least 3", n)
			}
		})
	}
}

// TestLiveForbiddenKinds: a user who may not list Secrets, Pods or ConfigMaps gets a State
// that records those kinds as forbidden (as LoadLive does) instead of hanging on them.
func TestLiveForbiddenKinds(t *testing.T) {
	c := testcluster.Start(t)
	ns := c.Namespace(t, "kwid-state-forbidden")
	user := "kwid-limited-" + ns
	c.Kubectl(t, fmt.Sprintf(`apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: %[1]s}
rules:
- apiGroups: [""]
  resources: [namespaces, serviceaccounts, replicationcontrollers, nodes]
  verbs: [get, list, watch]
- apiGroups: [apps, batch, rbac.authorization.k8s.io, admissionregistration.k8s.io]
  resources: ["*"]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: %[1]s}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: %[1]s}
subjects: [{kind: User, name: %[1]s, apiGroup: rbac.authorization.k8s.io}]
`, user), "apply", "-f", "-")
	t.Cleanup(func() {
		c.Kubectl(t, "", "delete", "clusterrole,clusterrolebinding", user, "--ignore-not-found")
	})
	cfg := rest.CopyConfig(c.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	want, err := inventory.LoadLive(ctx, cfg, inventory.LiveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := clusterstate.New(cfg, clusterstate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatalf("Start: %v", err)
	}
	for _, k := range inventory.AllKinds {
		if got, w := s.Status(k).State, want.StatusOf(k).State; got != w {
			t.Errorf("%s: state %q, LoadLive says %q", k, got, w)
		}
	}
	for _, k := range []inventory.Kind{inventory.Secrets, inventory.Pods, inventory.ConfigMaps} {
		if st := s.Status(k); st.State != inventory.Forbidden {
			t.Errorf("%s: state %q, want forbidden", k, st.State)
		}
	}
	if st := s.Status(inventory.ServiceAccounts); st.State != inventory.Collected {
		t.Errorf("ServiceAccount: state %q (%s), want collected", st.State, st.Error)
	}
	// The error texts differ in the verb: LoadLive gets the two ConfigMaps, the State
	// lists and watches them by name.
	if diff := cmp.Diff(want, s.Snapshot(), cmpopts.EquateEmpty(), cmpopts.IgnoreFields(inventory.Status{}, "Error")); diff != "" {
		t.Errorf("State.Snapshot differs from LoadLive for a limited user (-LoadLive +State):\n%s", diff)
	}
}

// TestLiveKindsOption: kinds not asked for are absent, as with LoadLive's Kinds.
func TestLiveKindsOption(t *testing.T) {
	c := testcluster.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kinds := []inventory.Kind{inventory.ServiceAccounts, inventory.ClusterRoles}
	s, err := clusterstate.New(c.Config, clusterstate.Options{Kinds: kinds})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	want, err := inventory.LoadLive(ctx, c.Config, inventory.LiveOptions{Options: inventory.Options{Kinds: kinds}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want.Status, s.Snapshot().Status); diff != "" {
		t.Errorf("Status (-LoadLive +State):\n%s", diff)
	}
	if _, err := clusterstate.New(c.Config, clusterstate.Options{Kinds: []inventory.Kind{"Widget"}}); err == nil {
		t.Error("New accepted an unknown kind")
	}
}
