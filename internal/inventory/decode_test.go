package inventory_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/synthetic"
	"k8s.io/apimachinery/pkg/runtime"
)

// decodeSeeds are object lines of every kind a snapshot holds: a generated cluster that has
// every kind and feature (S), written as Save writes them.
func decodeSeeds(t testing.TB) [][]byte {
	t.Helper()
	var lines [][]byte
	err := synthetic.Generate(synthetic.S, 7, func(obj runtime.Object) error {
		b, err := json.Marshal(obj)
		lines = append(lines, b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// lineKind is the kind named in an object line ("" when there is none).
func lineKind(line []byte) inventory.Kind {
	var tm struct{ Kind inventory.Kind }
	_ = json.Unmarshal(line, &tm)
	return tm.Kind
}

// The fast decoder of snapshot lines gives exactly what encoding/json gives, for every
// kind: every field of every object of a generated cluster.
func TestDecodeObjectAsEncodingJSON(t *testing.T) {
	kinds := map[inventory.Kind]int{}
	for _, line := range decodeSeeds(t) {
		k := lineKind(line)
		want, got := inventory.NewObject(k), inventory.NewObject(k)
		if want == nil {
			t.Fatalf("no kind in %s", line)
		}
		kinds[k]++
		if err := json.Unmarshal(line, want); err != nil {
			t.Fatal(err)
		}
		if err := inventory.FastDecode(line, got); err != nil { // the fast path itself
			t.Fatalf("%s: %v", line, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("decoded differently:\n%s\ngot  %#v\nwant %#v", line, got, want)
		}
	}
	if len(kinds) < 12 {
		t.Errorf("only %d kinds tested: %v", len(kinds), kinds)
	}
}

// A line the fast decoder refuses is refused as encoding/json refuses it, in its words.
func TestDecodeObjectErrors(t *testing.T) {
	for _, line := range []string{
		`{"kind":"Pod","metadata":{"name":5}}`,
		`{"kind":"Pod","spec":{"containers":{}}}`,
		`{"kind":"Role","rules":[{"verbs":"get"}]}`,
		`{"kind":"Pod","metadata":{"name":"a"`,
		`{"kind":"Pod"} trailing`,
	} {
		k := lineKind([]byte(line))
		if k == "" {
			k = inventory.Pods
		}
		wantErr := json.Unmarshal([]byte(line), inventory.NewObject(k))
		err := inventory.DecodeObject([]byte(line), inventory.NewObject(k))
		if wantErr == nil || err == nil || err.Error() != wantErr.Error() {
			t.Errorf("%s: error %v, want %v", line, err, wantErr)
		}
	}
}

// Whatever the bytes, the fast decoder agrees with encoding/json: the same object when it
// decodes, an error when it does not.
func FuzzDecodeObject(f *testing.F) {
	for i, line := range decodeSeeds(f) {
		if i%7 == 0 {
			f.Add(line)
		}
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		k := lineKind(line)
		if inventory.NewObject(k) == nil {
			k = inventory.Pods
		}
		want, got := inventory.NewObject(k), inventory.NewObject(k)
		wantErr := json.Unmarshal(line, want)
		err := inventory.DecodeObject(line, got)
		switch {
		case (err == nil) != (wantErr == nil):
			t.Fatalf("error %v, encoding/json's %v", err, wantErr)
		case err != nil && !strings.Contains(err.Error(), wantErr.Error()):
			t.Fatalf("error %v, encoding/json's %v", err, wantErr)
		case err == nil && !reflect.DeepEqual(got, want):
			t.Fatalf("decoded differently:\ngot  %#v\nwant %#v", got, want)
		}
	})
}
