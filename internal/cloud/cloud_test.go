package cloud

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	issuer   = "https://oidc.eks.us-east-1.amazonaws.com/id/AAAA"
	host     = "oidc.eks.us-east-1.amazonaws.com/id/AAAA"
	provider = "arn:aws:iam::111122223333:oidc-provider/" + host
)

func role(t *testing.T, trust string) *Role {
	t.Helper()
	p, err := ParsePolicy([]byte(trust))
	if err != nil {
		t.Fatalf("trust %s: %v", trust, err)
	}
	return &Role{Name: "r", ARN: "arn:aws:iam::111122223333:role/r", Trust: p}
}

func irsa(cond string) string {
	return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"` + provider + `"},"Action":"sts:AssumeRoleWithWebIdentity","Condition":` + cond + `}]}`
}

// TestWebIdentity: which tokens of which issuer a trust policy admits, operator by
// operator, with the near misses that matter for IRSA.
func TestWebIdentity(t *testing.T) {
	app, other := "system:serviceaccount:prod:app", "system:serviceaccount:dev:app"
	tests := []struct {
		name, trust, sub, aud string
		want                  Tri
	}{
		{"exact sub and aud", irsa(`{"StringEquals":{"` + host + `:sub":"` + app + `","` + host + `:aud":"sts.amazonaws.com"}}`), app, STSAudience, Yes},
		{"exact sub, other SA", irsa(`{"StringEquals":{"` + host + `:sub":"` + app + `"}}`), other, STSAudience, No},
		{"StringEquals is not a wildcard", irsa(`{"StringEquals":{"` + host + `:sub":"system:serviceaccount:prod:*"}}`), app, STSAudience, No},
		{"StringLike namespace wildcard", irsa(`{"StringLike":{"` + host + `:sub":"system:serviceaccount:prod:*"}}`), app, STSAudience, Yes},
		{"StringLike namespace wildcard, other namespace", irsa(`{"StringLike":{"` + host + `:sub":"system:serviceaccount:prod:*"}}`), other, STSAudience, No},
		{"StringLike ? wildcard", irsa(`{"StringLike":{"` + host + `:sub":"system:serviceaccount:prod:ap?"}}`), app, STSAudience, Yes},
		{"list of values is OR", irsa(`{"StringEquals":{"` + host + `:sub":["x","` + app + `"]}}`), app, STSAudience, Yes},
		{"aud condition, wrong audience", irsa(`{"StringEquals":{"` + host + `:aud":"sts.amazonaws.com"}}`), app, "vault", No},
		{"no condition", irsa(`{}`), other, "anything", Yes},
		{"sub under another issuer", irsa(`{"StringEquals":{"oidc.eks.us-east-1.amazonaws.com/id/BBBB:sub":"` + app + `"}}`), app, STSAudience, No},
		{"IgnoreCase", irsa(`{"StringEqualsIgnoreCase":{"` + host + `:sub":"SYSTEM:serviceaccount:PROD:app"}}`), app, STSAudience, Yes},
		{"StringNotEquals excludes", irsa(`{"StringNotEquals":{"` + host + `:sub":["` + app + `","x"]}}`), app, STSAudience, No},
		{"StringNotLike admits others", irsa(`{"StringNotLike":{"` + host + `:sub":"system:serviceaccount:kube-system:*"}}`), app, STSAudience, Yes},
		{"IfExists on an absent key", irsa(`{"StringEqualsIfExists":{"` + host + `:amr":"x"}}`), app, STSAudience, Yes},
		{"Null true on an absent key", irsa(`{"Null":{"aws:RequestTag/team":"true"}}`), app, STSAudience, Yes},
		{"Null false on a present key", irsa(`{"Null":{"` + host + `:sub":"false"}}`), app, STSAudience, Yes},
		{"ForAnyValue on an absent key", irsa(`{"ForAnyValue:StringEquals":{"aws:TagKeys":"x"}}`), app, STSAudience, No},
		{"ForAllValues on an absent key", irsa(`{"ForAllValues:StringEquals":{"aws:TagKeys":"x"}}`), app, STSAudience, Yes},
		{"unmodelled key", irsa(`{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`), app, STSAudience, Maybe},
		{"Bool on an unmodelled key", irsa(`{"Bool":{"aws:SecureTransport":"true"}}`), app, STSAudience, Maybe},
		{"explicit Deny wins", `{"Statement":[{"Effect":"Allow","Principal":{"Federated":"` + provider + `"},"Action":"sts:*"},
			{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"StringLike":{"` + host + `:sub":"system:serviceaccount:prod:*"}}}]}`, app, STSAudience, No},
		{"Deny does not match", `{"Statement":[{"Effect":"Allow","Principal":{"Federated":"` + provider + `"},"Action":"sts:*"},
			{"Effect":"Deny","Principal":"*","Action":"*","Condition":{"StringLike":{"` + host + `:sub":"system:serviceaccount:kube-system:*"}}}]}`, app, STSAudience, Yes},
		{"other provider", `{"Statement":{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/other"},"Action":"sts:AssumeRoleWithWebIdentity"}}`, app, STSAudience, No},
		{"Principal *", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRoleWithWebIdentity"}}`, app, STSAudience, Yes},
		{"action not covered", `{"Statement":{"Effect":"Allow","Principal":{"Federated":"` + provider + `"},"Action":"sts:AssumeRole"}}`, app, STSAudience, No},
		{"NotAction covers it", `{"Statement":{"Effect":"Allow","Principal":{"Federated":"` + provider + `"},"NotAction":"iam:*"}}`, app, STSAudience, Yes},
		{"policy variable", irsa(`{"StringEquals":{"` + host + `:sub":"${` + host + `:sub}"}}`), app, STSAudience, Yes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := role(t, tc.trust).AssumeWithWebIdentity(issuer, tc.sub, tc.aud).Result; got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestPodIdentity(t *testing.T) {
	const cluster = "arn:aws:eks:us-east-1:111122223333:cluster/prod"
	trust := func(cond string) string {
		return `{"Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"],"Condition":` + cond + `}]}`
	}
	pc := PodIdentityContext{ClusterARN: cluster, ClusterName: "prod", Namespace: "shop", ServiceAccount: "cart", SessionTags: true}
	tests := []struct {
		name, trust string
		pc          PodIdentityContext
		want        Tri
	}{
		{"unconditioned", trust(`{}`), pc, Yes},
		{"source account", trust(`{"StringEquals":{"aws:SourceAccount":"111122223333"}}`), pc, Yes},
		{"other source account", trust(`{"StringEquals":{"aws:SourceAccount":"999999999999"}}`), pc, No},
		{"ArnLike cluster", trust(`{"ArnLike":{"aws:SourceArn":"arn:aws:eks:*:111122223333:cluster/*"}}`), pc, Yes},
		{"namespace tag", trust(`{"StringEquals":{"aws:RequestTag/kubernetes-namespace":"shop"}}`), pc, Yes},
		{"namespace tag, other namespace", trust(`{"StringEquals":{"aws:RequestTag/kubernetes-namespace":"ops"}}`), pc, No},
		{"tag condition without session tags", trust(`{"StringEquals":{"aws:RequestTag/kubernetes-namespace":"shop"}}`), PodIdentityContext{ClusterARN: cluster, Namespace: "shop"}, No},
		{"pod name tag is per pod", trust(`{"StringLike":{"aws:RequestTag/kubernetes-pod-name":"cart-*"}}`), pc, Maybe},
		{"TagSession not allowed", `{"Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":"sts:AssumeRole"}]}`, pc, No},
		{"other service", `{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`, pc, No},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := role(t, tc.trust).AssumeWithPodIdentity(tc.pc).Result; got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// TestPolicyForms: get-role prints the trust as an object, the raw API as URL-encoded
// text; both (and a JSON string) read the same.
func TestPolicyForms(t *testing.T) {
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":["` + provider + `"]},"Action":["sts:AssumeRoleWithWebIdentity"],"Condition":{"StringEquals":{"` + host + `:sub":"system:serviceaccount:a:b"}}}]}`
	want, err := ParsePolicy([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]string{
		"url-encoded": url.QueryEscape(doc),
		"json string": `"` + strings.ReplaceAll(doc, `"`, `\"`) + `"`,
	} {
		got, err := ParsePolicy([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	bad := map[string]string{
		`{"Statement":[{"Effect":"Maybe","Action":"*"}]}`:                            "Effect",
		`{"Statement":[{"Effect":"Allow"}]}`:                                         "no Action",
		`{"Statement":[{"Effect":"Allow","Action":"*","Principal":"me"}]}`:           "must be",
		`{"Statement":[{"Effect":"Allow","Action":"*","Condition":{"Foo":{}}}]}`:     "unknown operator",
		`{"Version":"2012-10-17"}`:                                                   "no Statement",
		`{"Statement":[{"Effect":"Allow","Action":"*","Principal":{"Wizard":"x"}}]}`: "principal type",
	}
	for in, want := range bad {
		if _, err := ParsePolicy([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want an error about %q", in, err, want)
		}
	}
}

func TestGlob(t *testing.T) {
	tests := []struct {
		p, v string
		want bool
	}{
		{"*", "", true}, {"a*c", "abbbc", true}, {"a*c", "abcd", false}, {"a?c", "abc", true},
		{"a?c", "ac", false}, {"*:*", "s3:Get", true}, {"s3:*Object", "s3:GetObject", true}, {"**a", "bba", true},
	}
	for _, tc := range tests {
		if got := Glob(tc.p, tc.v, false); got != tc.want {
			t.Errorf("Glob(%q, %q) = %v", tc.p, tc.v, got)
		}
	}
}

// TestLoadErrors: each bad file is named, with the offset of a syntax error.
func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct{ name, body, want string }{
		{"broken.json", "{\n  \"Role\": {\"RoleName\": \"x\",,}\n}", "broken.json: not valid JSON: invalid JSON at offset 30 (line 2, column 29)"},
		{"other.json", `{"kind": "Deployment", "apiVersion": "apps/v1"}`, "other.json: not the output of a supported command (an object with keys apiVersion, kind)"},
		{"attached.json", `{"AttachedPolicies": []}`, "attached.json: aws iam list-attached-role-policies output does not name its role"},
		{"empty.json", " ", "empty.json: empty file"},
		{"role.json", `{"Role": {"RoleName": "r", "Arn": "arn:aws:iam::1:role/r", "AssumeRolePolicyDocument": {"Statement": 3}}}`, "role.json: aws iam get-role output: role r AssumeRolePolicyDocument: policy Statement is neither"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]string{write(tc.name, tc.body)})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v\nwant it to contain %q", err, tc.want)
			}
		})
	}
}

// TestDemo: the demo's cloud side loads, every file recognised, and matches the demo
// cluster.
func TestDemo(t *testing.T) {
	inv, err := LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	c := inv.ClusterFor("", "https://oidc.eks.us-east-1.amazonaws.com/id/5C1D2E3F4A5B6C7D8E9F0A1B2C3D4E5F")
	if c.EKS == nil || c.EKS.Name != "brightcart-prod-use1" || c.GKE != nil {
		t.Fatalf("cluster: %+v", c)
	}
	for _, r := range inv.AWS.Roles {
		if !r.AttachedKnown {
			t.Errorf("role %s: attached policies not linked", r.Name)
		}
	}
	if p := inv.AWS.Policy("arn:aws:iam::111122223333:policy/AWSLoadBalancerControllerIAMPolicy"); p == nil || len(p.Document.Statements) != 3 {
		t.Errorf("get-policy-version not linked to its policy: %+v", p)
	}
	shapes := map[string]int{}
	for _, f := range inv.Files {
		shapes[f.Shape]++
	}
	for _, s := range []string{shapeGetRole, shapeAttached, shapeRolePolicy, shapePolicyVersion, shapeCluster, shapeAssocList, shapeAssoc,
		shapeEntryList, shapeEntry, shapeEntryPolicies, shapeLaunchTemplate, shapeGKE, "gcloud projects get-iam-policy",
		"gcloud iam service-accounts get-iam-policy", shapeFICList, shapeIdentity} {
		if shapes[s] == 0 {
			t.Errorf("no demo file recognised as %s", s)
		}
	}
}

func FuzzParsePolicy(f *testing.F) {
	f.Add([]byte(irsa(`{"StringLike":{"` + host + `:sub":"system:serviceaccount:prod:*"}}`)))
	f.Add([]byte(url.QueryEscape(irsa(`{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["a",true,3]}}`))))
	f.Add([]byte(`{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":"*"},"NotAction":"x","Condition":{"Null":{"k":"true"}}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePolicy(data)
		if err != nil {
			return
		}
		r := &Role{Name: "r", ARN: "arn:aws:iam::1:role/r", Trust: p}
		r.AssumeWithWebIdentity(issuer, "system:serviceaccount:a:b", STSAudience)
		r.AssumeWithPodIdentity(PodIdentityContext{ClusterARN: "arn:aws:eks:r:1:cluster/c", SessionTags: true})
	})
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"demo/aws/eks/describe-cluster.json", "demo/azure/federated-credentials-llm-gateway.json", "demo/gcp/container-clusters/brightcart-search-gke.json", "demo/aws/eks/access-entries/brightcart-break-glass.policies.json"} {
		data, err := demoFS.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`[{"clientId":"x","principalId":"y"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := Parse("fuzz@p.iam.gserviceaccount.com.json", data)
		if err != nil {
			return
		}
		c := inv.ClusterFor("", "")
		inv.Bindings(c, []ServiceAccount{{Namespace: "a", Name: "b"}})
	})
}
