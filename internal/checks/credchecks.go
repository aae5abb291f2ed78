package checks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"

	"github.com/kwid-dev/kwid/internal/inventory"
	"github.com/kwid-dev/kwid/internal/rbac"
	corev1 "k8s.io/api/core/v1"
)

// Static cloud credential checks (catalog section 1F). Secret values never leave this
// file: findings carry a fingerprint (kind, length, a SHA-256 prefix, at most the last
// four characters of a key ID).

// credHit is one credential found in a value.
type credHit struct {
	what  string // what was found, with its fingerprint
	where string // "container app env AWS_SECRET_ACCESS_KEY", "key credentials.json"
	sev   Severity
	// id is a public identifier that helps revoke the credential (AWS key ID suffix, GCP
	// service account e-mail and key ID suffix); never secret material.
	id string
}

// credFingerprint identifies a secret value without revealing it.
func credFingerprint(v string) string {
	sum := sha256.Sum256([]byte(v))
	return fmt.Sprintf("%d chars, sha256 %s", len(v), hex.EncodeToString(sum[:4]))
}

// credLast4 is the end of a key ID, "…QXZ6".
func credLast4(v string) string {
	if len(v) <= 8 {
		return "…"
	}
	return "…" + v[len(v)-4:]
}

// credNorm normalizes an env var or Secret key name: lowercase, no separators.
func credNorm(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		case r == '_' || r == '-' || r == '.':
			return -1
		}
		return r
	}, name)
}

var credPlaceholders = []string{
	"changeme", "change-me", "changeit", "placeholder", "dummy", "example", "test", "testing", "secret",
	"password", "none", "null", "nil", "undefined", "redacted", "notset", "todo", "minioadmin", "minio123",
	"accesskey", "secretkey", "foobar", "xxx",
}

// credPlaceholder reports whether a value is obviously not a real credential: empty or
// short, a template or variable reference, AWS documentation examples, a well-known
// placeholder word, or one repeated character.
func credPlaceholder(v string) bool {
	v = strings.TrimSpace(v)
	if len(v) < 8 {
		return true
	}
	upper := strings.ToUpper(v)
	if strings.HasSuffix(upper, "EXAMPLE") || strings.Contains(upper, "EXAMPLEKEY") {
		return true
	}
	for _, p := range []string{"$(", "${", "{{", "<", "%("} {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	if slices.Contains(credPlaceholders, strings.ToLower(v)) {
		return true
	}
	return strings.Count(v, v[:1]) == len(v) || strings.Trim(v, "*xX.-_ ") == ""
}

// AWS (gitleaks aws-access-token).
var (
	credAWSKeyID      = regexp.MustCompile(`\b((?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b`)
	credAWSFileSecret = regexp.MustCompile(`(?i)aws_secret_access_key\s*[=:]\s*["']?([A-Za-z0-9/+=]{30,})`)
	credAWSFileToken  = regexp.MustCompile(`(?i)aws_session_token\s*[=:]\s*["']?([A-Za-z0-9/+=]{30,})`)
)

var (
	credAWSKeyIDNames   = []string{"awsaccesskeyid", "accesskeyid", "awsaccesskey"}
	credAWSSecretNames  = []string{"awssecretaccesskey", "secretaccesskey", "awssecretkey"}
	credAWSSessionNames = []string{"awssessiontoken", "sessiontoken"}
)

func credAWSKeyKind(id string) string {
	if strings.HasPrefix(id, "ASIA") {
		return "temporary (ASIA)"
	}
	return "long-term (" + id[:4] + ")"
}

func credScanAWS(name, value string) []credHit {
	var hits []credHit
	n := credNorm(name)
	ids := 0
	for _, id := range credAWSKeyID.FindAllString(value, 4) {
		if strings.HasSuffix(id, "EXAMPLE") {
			continue
		}
		ids++
		hits = append(hits, credHit{what: fmt.Sprintf("AWS access key ID %s, %s", credLast4(id), credAWSKeyKind(id)), sev: Medium, id: "key ID ending " + id[len(id)-4:]})
	}
	v := strings.TrimSpace(value)
	switch {
	case credPlaceholder(v):
	case slices.Contains(credAWSKeyIDNames, n) && ids == 0:
		hits = append(hits, credHit{what: "AWS access key ID not in AWS format (" + credFingerprint(v) + ")", sev: Medium})
	case slices.Contains(credAWSSecretNames, n):
		hits = append(hits, credHit{what: "AWS secret access key (" + credFingerprint(v) + ")", sev: High})
	case slices.Contains(credAWSSessionNames, n):
		hits = append(hits, credHit{what: "AWS session token (" + credFingerprint(v) + ")", sev: High})
	}
	for _, m := range credAWSFileSecret.FindAllStringSubmatch(value, 4) {
		if !credPlaceholder(m[1]) {
			hits = append(hits, credHit{what: "AWS secret access key in a credentials file (" + credFingerprint(m[1]) + ")", sev: High})
		}
	}
	for _, m := range credAWSFileToken.FindAllStringSubmatch(value, 4) {
		if !credPlaceholder(m[1]) {
			hits = append(hits, credHit{what: "AWS session token in a credentials file (" + credFingerprint(m[1]) + ")", sev: High})
		}
	}
	return hits
}

// GCP.
var credGCPAPIKey = regexp.MustCompile(`AIza[\w-]{35}`)

// credGCPFile is the part of a Google credential JSON file kwid reads.
type credGCPFile struct {
	Type         string `json:"type"`
	PrivateKeyID string `json:"private_key_id"`
	PrivateKey   string `json:"private_key"`
	ClientEmail  string `json:"client_email"`
	ClientID     string `json:"client_id"`
	RefreshToken string `json:"refresh_token"`
}

// credParseGCPFile reads a Google credential file (service_account, authorized_user,
// external_account...); ok is false when the value is not one.
func credParseGCPFile(value string) (credGCPFile, bool) {
	var c credGCPFile
	v := strings.TrimSpace(value)
	if !strings.HasPrefix(v, "{") || json.Unmarshal([]byte(v), &c) != nil || c.Type == "" {
		return credGCPFile{}, false
	}
	return c, true
}

func credScanGCP(_, value string) []credHit {
	var hits []credHit
	if c, ok := credParseGCPFile(value); ok {
		switch {
		case c.Type == "service_account" && c.PrivateKey != "":
			h := credHit{what: fmt.Sprintf("GCP service account key for %s (private key %s)", escOr(c.ClientEmail, "an unnamed account"), credFingerprint(c.PrivateKey)), sev: High}
			h.id = c.ClientEmail
			if len(c.PrivateKeyID) > 8 {
				h.what += ", key ID " + credLast4(c.PrivateKeyID)
				h.id += " key ID ending " + c.PrivateKeyID[len(c.PrivateKeyID)-4:]
			}
			hits = append(hits, h)
		case c.Type == "authorized_user" && c.RefreshToken != "":
			hits = append(hits, credHit{what: fmt.Sprintf("GCP user refresh token for client %s (%s)", credLast4(c.ClientID), credFingerprint(c.RefreshToken)), sev: High})
		}
	}
	for _, k := range credGCPAPIKey.FindAllString(value, 4) {
		hits = append(hits, credHit{what: "Google API key (" + credFingerprint(k) + ")", sev: Medium})
	}
	return hits
}

// Azure.
var credAzureSecret = regexp.MustCompile(`(?:^|[^a-zA-Z0-9_~.-])([a-zA-Z0-9_~.]{3}\dQ~[a-zA-Z0-9_~.-]{31,34})(?:$|[^a-zA-Z0-9_~.-])`)

var credAzureSecretNames = []string{"azureclientsecret", "armclientsecret", "azurepassword", "aadclientsecret"}

func credScanAzure(name, value string) []credHit {
	var hits []credHit
	for _, m := range credAzureSecret.FindAllStringSubmatch(value, 4) {
		hits = append(hits, credHit{what: "Azure AD client secret (" + credFingerprint(m[1]) + ")", sev: High})
	}
	v := strings.TrimSpace(value)
	if len(hits) == 0 && slices.Contains(credAzureSecretNames, credNorm(name)) && !credPlaceholder(v) {
		hits = append(hits, credHit{what: "Azure client secret or password (" + credFingerprint(v) + ")", sev: High})
	}
	// azure.json (cloud provider config) and similar: a JSON object with aadClientSecret.
	if len(hits) == 0 && strings.HasPrefix(v, "{") {
		var obj map[string]any
		if json.Unmarshal([]byte(v), &obj) == nil {
			for _, k := range tokSortedKeys(obj) {
				if s, ok := obj[k].(string); ok && slices.Contains(credAzureSecretNames, credNorm(k)) && !credPlaceholder(s) {
					hits = append(hits, credHit{what: fmt.Sprintf("Azure client secret in JSON field %s (%s)", k, credFingerprint(s)), sev: High})
				}
			}
		}
	}
	return hits
}

// credProvider is one cloud's detection and advice.
type credProvider struct {
	cloud string
	// refNames are env var names or Secret keys whose secretKeyRef reads a credential.
	refNames []string
	scan     func(name, value string) []credHit
	// fix says how to stop using static credentials and revoke them.
	fix func(w *inventory.Workload, ids []string) string
}

func credIDs(hits []credHit) []string {
	var ids []string
	for _, h := range hits {
		if h.id != "" && !slices.Contains(ids, h.id) {
			ids = append(ids, h.id)
		}
	}
	return ids
}

var credAWS = &credProvider{
	cloud:    "AWS",
	refNames: slices.Concat(credAWSKeyIDNames, credAWSSecretNames, credAWSSessionNames),
	scan:     credScanAWS,
	fix: func(w *inventory.Workload, ids []string) string {
		use := "Use IRSA or EKS Pod Identity instead of static keys"
		if w != nil {
			use += fmt.Sprintf(" (kwid generate workload-identity --sa %s/%s --aws-role ROLE) and remove the AWS_* key variables from %s", w.Ref.Namespace, w.ServiceAccountName(), w.Ref)
		}
		key := "the key"
		if len(ids) > 0 {
			key = "the key (" + strings.Join(ids, ", ") + ")"
		}
		return use + "; then deactivate and delete " + key + ": aws iam list-access-keys --user-name USER; aws iam update-access-key --access-key-id KEY_ID --status Inactive --user-name USER; aws iam delete-access-key --access-key-id KEY_ID --user-name USER"
	},
}

var credGCP = &credProvider{
	cloud:    "GCP",
	refNames: []string{"googlecredentials", "googleapplicationcredentialsjson"},
	scan:     credScanGCP,
	fix: func(w *inventory.Workload, ids []string) string {
		use := "Use GKE Workload Identity (or Workload Identity Federation outside GCP) instead of key files"
		if w != nil {
			use += fmt.Sprintf(" (annotate ServiceAccount %s/%s with iam.gke.io/gcp-service-account) and drop GOOGLE_APPLICATION_CREDENTIALS from %s", w.Ref.Namespace, w.ServiceAccountName(), w.Ref)
		}
		key := "the key"
		if len(ids) > 0 {
			key = "the key (" + strings.Join(ids, ", ") + ")"
		}
		return use + "; then delete " + key + ": gcloud iam service-accounts keys list --iam-account EMAIL; gcloud iam service-accounts keys delete KEY_ID --iam-account EMAIL"
	},
}

var credAzure = &credProvider{
	cloud:    "Azure",
	refNames: credAzureSecretNames,
	scan:     credScanAzure,
	fix: func(w *inventory.Workload, _ []string) string {
		use := "Use Azure Workload Identity instead of client secrets"
		if w != nil {
			use += fmt.Sprintf(" (annotate ServiceAccount %s/%s with azure.workload.identity/client-id, label the pods azure.workload.identity/use: \"true\") and remove the secret variables from %s", w.Ref.Namespace, w.ServiceAccountName(), w.Ref)
		}
		return use + "; then delete the secret from the app registration: az ad app credential list --id APP_ID; az ad app credential delete --id APP_ID --key-id KEY_ID"
	},
}

// credContainer is the part of any container (init, regular, ephemeral) the credential
// checks read.
type credContainer struct {
	name    string
	env     []corev1.EnvVar
	envFrom []corev1.EnvFromSource
	mounts  []corev1.VolumeMount
}

func credContainers(spec *corev1.PodSpec) []credContainer {
	var out []credContainer
	for _, c := range spec.InitContainers {
		out = append(out, credContainer{"init:" + c.Name, c.Env, c.EnvFrom, c.VolumeMounts})
	}
	for _, c := range spec.Containers {
		out = append(out, credContainer{c.Name, c.Env, c.EnvFrom, c.VolumeMounts})
	}
	for _, c := range spec.EphemeralContainers {
		out = append(out, credContainer{"ephemeral:" + c.Name, c.Env, c.EnvFrom, c.VolumeMounts})
	}
	return out
}

// credRef is a workload reading a Secret (key "" for all keys).
type credRef struct {
	where     string
	namespace string
	secret    string
	key       string
	// mountedFile is set for GOOGLE_APPLICATION_CREDENTIALS resolved to a Secret volume.
	mountedFile bool
	// optional references inject nothing when the Secret does not exist.
	optional bool
	// envName is the variable a secretKeyRef fills: its name says what the value is when
	// the Secret's key does not (AWS_SECRET_ACCESS_KEY from key "secret").
	envName string
}

// credMountedFile resolves a file path in a container to the volume that provides it:
// for a Secret volume, the Secret and key.
func credMountedFile(spec *corev1.PodSpec, c credContainer, file string) (secret, key, source string) {
	var best *corev1.VolumeMount
	rel := ""
	for i := range c.mounts {
		m := &c.mounts[i]
		mp := strings.TrimSuffix(m.MountPath, "/")
		var r string
		switch {
		case file == mp:
		case mp != "" && strings.HasPrefix(file, mp+"/"):
			r = file[len(mp)+1:]
		default:
			continue
		}
		if best == nil || len(mp) > len(strings.TrimSuffix(best.MountPath, "/")) {
			best, rel = m, r
		}
	}
	if best == nil {
		return "", "", "no volume mount (a file in the image?)"
	}
	key = rel
	if best.SubPath != "" {
		key = path.Join(best.SubPath, rel)
	}
	for _, v := range spec.Volumes {
		if v.Name != best.Name {
			continue
		}
		switch {
		case v.Secret != nil:
			for _, it := range v.Secret.Items {
				if it.Path == key {
					key = it.Key
				}
			}
			return v.Secret.SecretName, key, "Secret volume " + v.Name
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.Secret == nil {
					continue
				}
				if len(src.Secret.Items) == 0 {
					return src.Secret.Name, key, "projected volume " + v.Name
				}
				for _, it := range src.Secret.Items {
					if it.Path == key {
						return src.Secret.Name, it.Key, "projected volume " + v.Name
					}
				}
			}
			return "", "", "projected volume " + v.Name + " (no Secret source for the file)"
		case v.ConfigMap != nil:
			return "", "", "ConfigMap volume " + v.Name
		case v.CSI != nil:
			return "", "", "CSI volume " + v.Name + " (" + v.CSI.Driver + ")"
		case v.HostPath != nil:
			return "", "", "hostPath volume " + v.Name
		}
		return "", "", "volume " + v.Name
	}
	return "", "", "mount of a missing volume " + best.Name
}

// credSecretValues returns a Secret's values by key (data, then stringData).
func credSecretValues(sec *corev1.Secret) map[string]string {
	out := make(map[string]string, len(sec.Data)+len(sec.StringData))
	for k, v := range sec.Data {
		out[k] = string(v)
	}
	for k, v := range sec.StringData {
		out[k] = v
	}
	return out
}

// credScanValue scans one value, and once more decoded when it is a base64 blob.
func credScanValue(p *credProvider, name, value string) []credHit {
	if len(value) > tokMaxScannedValue {
		value = value[:tokMaxScannedValue]
	}
	hits := p.scan(name, value)
	if len(hits) == 0 {
		if text, ok := tokDecodeText(value); ok {
			hits = p.scan(name, text)
		}
	}
	return hits
}

// credSecretReaders says who can read a Secret: subjects with get (on it), list or watch
// on Secrets in its namespace; at most 10 named.
func credSecretReaders(in *Input, namespace, name string) string {
	return credReaders(in, namespace, fmt.Sprintf("get/list/watch on Secrets in %s", namespace),
		rbac.Request{Verb: "get", Resource: "secrets", Name: name},
		rbac.Request{Verb: "list", Resource: "secrets"},
		rbac.Request{Verb: "watch", Resource: "secrets"})
}

// credWorkloadReaders says who can read a workload's pod spec (its env).
func credWorkloadReaders(in *Input, ref inventory.ObjectRef) string {
	group, resource := credWorkloadResource(ref.Kind)
	reqs := []rbac.Request{
		{Verb: "get", APIGroup: group, Resource: resource, Name: ref.Name},
		{Verb: "list", APIGroup: group, Resource: resource},
		{Verb: "watch", APIGroup: group, Resource: resource},
	}
	what := resource
	if group != "" {
		what += "." + group
	}
	if ref.Kind != inventory.Pods {
		reqs = append(reqs, rbac.Request{Verb: "get", Resource: "pods"}, rbac.Request{Verb: "list", Resource: "pods"}, rbac.Request{Verb: "watch", Resource: "pods"})
		what = "pods or " + what
	}
	return credReaders(in, ref.Namespace, fmt.Sprintf("get/list/watch on %s in %s", what, ref.Namespace), reqs...) + " (the env is part of the pod spec)"
}

func credWorkloadResource(k inventory.Kind) (group, resource string) {
	switch k {
	case inventory.Deployments, inventory.StatefulSets, inventory.DaemonSets, inventory.ReplicaSets:
		return "apps", strings.ToLower(string(k)) + "s"
	case inventory.Jobs, inventory.CronJobs:
		return "batch", strings.ToLower(string(k)) + "s"
	case inventory.ReplicationControllers:
		return "", "replicationcontrollers"
	}
	return "", "pods"
}

func credReaders(in *Input, namespace, what string, reqs ...rbac.Request) string {
	if !in.Snapshot.Readable(rbacKinds...) {
		return "who can read it is unknown: RBAC was not fully collected"
	}
	var names []string
	for _, h := range in.Holders(Allows(reqs...)) {
		wide, here := false, false
		for _, g := range h.Grants {
			wide = wide || g.Binding.ClusterWide()
			here = here || g.Namespace() == namespace
		}
		switch {
		case wide:
			names = append(names, h.Subject.String()+" (cluster-wide)")
		case here:
			names = append(names, h.Subject.String())
		}
	}
	if len(names) == 0 {
		return fmt.Sprintf("no RBAC subject holds %s (system:masters aside)", what)
	}
	return fmt.Sprintf("%d subject(s) can read it (%s): %s", len(names), what, escCapList(names, 10))
}

// credRun is the shared body of the credential checks: literal env values and Secret
// references in workloads (a), Secret data (b).
func credRun(in *Input, r *run, p *credProvider) {
	s := in.Snapshot
	secretData := s.Cluster.SecretData && s.StatusOf(inventory.Secrets).Readable()
	secrets := map[[2]string]*corev1.Secret{}
	for i := range s.Secrets {
		secrets[[2]string{s.Secrets[i].Namespace, s.Secrets[i].Name}] = &s.Secrets[i]
	}
	// usedBy maps a Secret to the workloads that read credentials from it; envNames maps a
	// Secret key to the variables it fills.
	usedBy := map[[2]string][]string{}
	envNames := map[[3]string][]string{}

	if r.needWorkloads("(a) container environment") {
		for _, w := range in.Workloads() {
			if w.Controlled {
				continue
			}
			var hits []credHit
			var refs []credRef
			for _, c := range credContainers(w.Spec) {
				for _, e := range c.env {
					where := fmt.Sprintf("container %s env %s", c.name, e.Name)
					switch {
					case e.Value != "" && p == credGCP && e.Name == "GOOGLE_APPLICATION_CREDENTIALS":
						sec, key, source := credMountedFile(w.Spec, c, e.Value)
						if sec == "" {
							if strings.HasPrefix(source, "ConfigMap") || strings.HasPrefix(source, "CSI") {
								continue // credential configuration (external_account) or a secrets-store mount
							}
							hits = append(hits, credHit{where: where, what: fmt.Sprintf("GOOGLE_APPLICATION_CREDENTIALS=%s comes from %s: a key file kwid cannot see", e.Value, source), sev: Low})
							continue
						}
						refs = append(refs, credRef{where: where + " (" + source + ")", namespace: w.Ref.Namespace, secret: sec, key: key, mountedFile: true})
					case e.Value != "":
						for _, h := range credScanValue(p, e.Name, e.Value) {
							h.where = where
							hits = append(hits, h)
						}
					case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
						ref := e.ValueFrom.SecretKeyRef
						if slices.Contains(p.refNames, credNorm(e.Name)) || slices.Contains(p.refNames, credNorm(ref.Key)) {
							refs = append(refs, credRef{where: where, namespace: w.Ref.Namespace, secret: ref.Name, key: ref.Key, optional: ref.Optional != nil && *ref.Optional, envName: e.Name})
						}
					}
				}
				for _, ef := range c.envFrom {
					if ef.SecretRef != nil && secretData {
						refs = append(refs, credRef{where: fmt.Sprintf("container %s envFrom", c.name), namespace: w.Ref.Namespace, secret: ef.SecretRef.Name, optional: ef.SecretRef.Optional != nil && *ef.SecretRef.Optional})
					}
				}
			}
			// Keep the references that lead to a credential, as far as the input shows.
			var kept []credRef
			var notes []string
			for _, ref := range refs {
				key := [2]string{ref.namespace, ref.secret}
				sec := secrets[key]
				switch {
				case !secretData:
					notes = credAppendOnce(notes, "Secret values not checked: "+credSecretDataReason)
				case sec == nil && ref.optional:
					continue // an optional reference to a missing Secret injects nothing
				case sec == nil:
					notes = credAppendOnce(notes, fmt.Sprintf("Secret %s/%s is not in the input", ref.namespace, ref.secret))
				default:
					found := false
					for k, v := range credSecretValues(sec) {
						if ref.key != "" && k != ref.key {
							continue
						}
						found = found || len(credScanValue(p, k, v)) > 0 ||
							ref.envName != "" && len(credScanValue(p, ref.envName, v)) > 0
					}
					if !found {
						continue
					}
				}
				kept = append(kept, ref)
				usedBy[key] = credAppendOnce(usedBy[key], fmt.Sprintf("%s (%s)", w.Ref, ref.where))
				if ref.envName != "" {
					k := [3]string{ref.namespace, ref.secret, ref.key}
					envNames[k] = credAppendOnce(envNames[k], ref.envName)
				}
			}
			if len(hits) == 0 && len(kept) == 0 {
				continue
			}
			f := Finding{Object: w.Ref, Related: []inventory.ObjectRef{{Kind: inventory.ServiceAccounts, Namespace: w.Ref.Namespace, Name: w.ServiceAccountName()}}}
			for _, h := range hits {
				f.Severity = max(f.Severity, h.sev)
				f.Evidence = append(f.Evidence, h.where+": "+h.what)
			}
			var from []string
			for _, ref := range kept {
				if ref.optional && !secretData {
					// Optional: nothing is injected when the Secret does not exist, which
					// kwid cannot tell without Secret data.
					f.Severity = max(f.Severity, Low)
					notes = credAppendOnce(notes, fmt.Sprintf("%s: the reference is optional: nothing is injected if Secret %s/%s does not exist", ref.where, ref.namespace, ref.secret))
				} else {
					f.Severity = max(f.Severity, Medium)
				}
				secRef := inventory.ObjectRef{Kind: inventory.Secrets, Namespace: ref.namespace, Name: ref.secret}
				if !slices.Contains(f.Related, secRef) {
					f.Related = append(f.Related, secRef)
					from = append(from, secRef.Namespace+"/"+secRef.Name)
				}
				k := "all keys"
				if ref.key != "" {
					k = "key " + ref.key
				}
				f.Evidence = append(f.Evidence, fmt.Sprintf("%s: from Secret %s/%s %s", ref.where, ref.namespace, ref.secret, k))
			}
			for _, sec := range from {
				ns, name, _ := strings.Cut(sec, "/")
				f.Evidence = append(f.Evidence, "Secret "+sec+": "+credSecretReaders(in, ns, name))
			}
			f.Evidence = append(f.Evidence, notes...)
			switch {
			case len(hits) > 0:
				f.Evidence = append(f.Evidence, credWorkloadReaders(in, w.Ref))
				f.Message = fmt.Sprintf("%s carries static %s credentials in its pod spec", w.Ref, p.cloud)
				if len(from) > 0 {
					f.Message += " and reads more from Secret " + strings.Join(from, ", ")
				}
			default:
				f.Message = fmt.Sprintf("%s reads static %s credentials from Secret %s", w.Ref, p.cloud, strings.Join(from, ", "))
			}
			f.Message += ": whoever reads them acts as that cloud identity, from anywhere, until the key is revoked"
			wc := w
			f.Remediation = p.fix(&wc, credIDs(hits))
			r.add(f)
		}
	}

	const part = "(b) Secret data"
	if !r.need(part, inventory.Secrets) {
		return
	}
	if !s.Cluster.SecretData {
		r.notAssessed(part, []string{credSecretDataReason})
		return
	}
	for i := range s.Secrets {
		sec := &s.Secrets[i]
		if sec.Type == corev1.SecretTypeServiceAccountToken {
			continue
		}
		values := credSecretValues(sec)
		var hits []credHit
		for _, k := range tokSortedKeys(values) {
			found := credScanValue(p, k, values[k])
			for _, env := range envNames[[3]string{sec.Namespace, sec.Name, k}] {
				if len(found) > 0 {
					break
				}
				found = credScanValue(p, env, values[k])
			}
			for _, h := range found {
				h.where = "key " + k
				hits = append(hits, h)
			}
		}
		if len(hits) == 0 {
			continue
		}
		ref := inventory.ObjectRef{Kind: inventory.Secrets, Namespace: sec.Namespace, Name: sec.Name}
		f := Finding{Object: ref}
		for _, h := range hits {
			f.Severity = max(f.Severity, h.sev)
			f.Evidence = append(f.Evidence, h.where+": "+h.what)
		}
		f.Evidence = append(f.Evidence, credSecretReaders(in, sec.Namespace, sec.Name))
		users := usedBy[[2]string{sec.Namespace, sec.Name}]
		if len(users) > 0 {
			f.Evidence = append(f.Evidence, "read by "+escCapList(users, 5))
		}
		f.Message = fmt.Sprintf("Secret %s/%s holds static %s credentials: whoever can read it acts as that cloud identity, from anywhere, until the key is revoked", sec.Namespace, sec.Name, p.cloud)
		f.Remediation = p.fix(nil, credIDs(hits)) + fmt.Sprintf("; once no workload reads it: kubectl delete secret %s -n %s", sec.Name, sec.Namespace)
		r.add(f)
	}
}

func credAppendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

var credReads = append(append([]inventory.Kind{inventory.Secrets}, rbacKinds...), workloadKinds...)

var credAWSCheck = register(&Check{
	ID:       "KW-CRED-001",
	Title:    "Static AWS keys",
	Severity: High,
	Reads:    credReads,
	Refs:     []string{"EKS best practices (IAM): use IRSA or EKS Pod Identity, never static keys", "CIS EKS 4.1.x: prefer dedicated EKS ServiceAccounts", "gitleaks aws-access-token"},
	Summary: "AWS access keys in container env (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN with literal " +
		"values, or any value shaped like an access key ID; AWS documentation examples ending in EXAMPLE are skipped), " +
		"env read from Secrets by those names (medium: the reference), and, with --include-secret-data, keys in Secret " +
		"data (high), each with the subjects that can read it. Values are shown as fingerprints.",
	run: func(in *Input, r *run) { credRun(in, r, credAWS) },
})

var credGCPCheck = register(&Check{
	ID:       "KW-CRED-002",
	Title:    "Static GCP credentials",
	Severity: High,
	Reads:    credReads,
	Refs:     []string{"GKE best practices: use Workload Identity instead of service account keys", "gitleaks gcp-api-key"},
	Summary: "GOOGLE_APPLICATION_CREDENTIALS pointing at a file from a mounted Secret (medium: the reference; low when the " +
		"file comes from the image or a host volume), service account key JSON or user refresh tokens in env values or " +
		"Secret data (high), Google API keys AIza... (medium). external_account configurations (Workload Identity " +
		"Federation) hold no secret and are not reported. Secret data needs --include-secret-data.",
	run: func(in *Input, r *run) { credRun(in, r, credGCP) },
})

var credAzureCheck = register(&Check{
	ID:       "KW-CRED-003",
	Title:    "Static Azure credentials",
	Severity: High,
	Reads:    credReads,
	Refs:     []string{"Azure Workload Identity: replace client secrets with federated credentials", "gitleaks azure-ad-client-secret"},
	Summary: "Azure client secrets and passwords in container env (AZURE_CLIENT_SECRET, ARM_CLIENT_SECRET, AZURE_PASSWORD " +
		"with literal values, or any value shaped like an Entra ID client secret, xxx8Q~...), env read from Secrets by " +
		"those names (medium), and, with --include-secret-data, such secrets in Secret data, including azure.json " +
		"aadClientSecret (high). Values are shown as fingerprints.",
	run: func(in *Input, r *run) { credRun(in, r, credAzure) },
})
