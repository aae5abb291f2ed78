package inventory

import (
	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/api/equality"
)

// snapshotCmp compares Kubernetes objects the way the API machinery does (quantities,
// times), which go-cmp cannot do on their unexported fields.
var snapshotCmp = cmp.Comparer(func(a, b Snapshot) bool { return equality.Semantic.DeepEqual(a, b) })
