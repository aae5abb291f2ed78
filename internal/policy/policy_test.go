package policy

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	"sigs.k8s.io/yaml"
)

// TestExpressionsCompile: every expression compiles as CEL (the API server's own type check
// against the resources' schemas runs in the integration test TestPolicyExportEnforced) and
// every message names its check.
func TestExpressionsCompile(t *testing.T) {
	env, err := cel.NewEnv(cel.Variable("object", cel.DynType), cel.Variable("variables", cel.MapType(cel.StringType, cel.DynType)))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules() {
		for _, v := range r.Variables {
			if _, iss := env.Compile(v.Expression); iss.Err() != nil {
				t.Errorf("%s variable %s: %v", r.Name, v.Name, iss.Err())
			}
		}
		for _, v := range r.Validations {
			if _, iss := env.Compile(v.Expression); iss.Err() != nil {
				t.Errorf("%s: %v", r.Name, iss.Err())
			}
			if !strings.HasPrefix(v.Message, r.Check+": ") {
				t.Errorf("%s: message %q should start with its check ID", r.Name, v.Message)
			}
		}
	}
}

func TestWriteVAPDocuments(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteVAP(&buf, Options{Action: "warn", ExcludeNamespaces: []string{"kube-system"}}); err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(buf.String(), "\n---\n")
	if len(docs) != 2*len(Rules()) {
		t.Fatalf("%d documents for %d rules", len(docs), len(Rules()))
	}
	var binding struct {
		Kind string
		Spec struct {
			PolicyName        string   `json:"policyName"`
			ValidationActions []string `json:"validationActions"`
		}
	}
	if err := yaml.Unmarshal([]byte(docs[1]), &binding); err != nil {
		t.Fatal(err)
	}
	if binding.Kind != "ValidatingAdmissionPolicyBinding" || binding.Spec.ValidationActions[0] != "Warn" || !strings.HasPrefix(binding.Spec.PolicyName, "kwid-") {
		t.Errorf("binding: %+v", binding)
	}
	if err := WriteVAP(&buf, Options{Action: "block"}); err == nil {
		t.Error("an unknown action must be refused")
	}
}
