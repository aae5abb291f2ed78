package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/kwid-dev/kwid/internal/cloud"
	"github.com/kwid-dev/kwid/internal/token"
	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
)

func newTokenCommand(g *globalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Decode, verify and explain ServiceAccount tokens",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usageErrorf("want a subcommand: kwid token inspect (see kwid token --help)")
		},
	}
	cmd.AddCommand(newTokenInspectCommand(g, streams))
	return cmd
}

type tokenInspectOptions struct {
	in        *inputFlags
	tokenFile string
	jwks      string
	noVerify  bool
	output    string
}

func newTokenInspectCommand(g *globalOptions, streams genericiooptions.IOStreams) *cobra.Command {
	o := &tokenInspectOptions{in: newInputFlags()}
	cmd := &cobra.Command{
		Use:   "inspect [TOKEN | -] [--token-file F] [--jwks F | --no-verify] [cluster flags | -f PATH | --snapshot F | --demo] [--cloud DIR]",
		Short: "Decode a ServiceAccount token, verify its signature and explain it; the token is never printed",
		Long: `Decode a ServiceAccount JWT (legacy Secret-based or bound), verify its signature and explain
it: issuer, subject, audiences, issue and expiry times with the remaining lifetime, the
ServiceAccount and the object it is bound to (Pod, Secret or Node), warnafter, and the cloud
roles it could be exchanged for (IRSA, GKE and Azure Workload Identity annotations of its
ServiceAccount) with whether its audience is the one the cloud expects. With --cloud DIR (the
clouds' CLI JSON, docs/cloud.md), the cloud identities whose trust admits the token's subject
and audience for the cluster's issuer are listed too, as kwid's IAM evaluator decides them.

The token: an argument, - for stdin, or --token-file FILE (stdin when none is given and
stdin is not a terminal). Prefer - or --token-file: arguments end up in shell history.

The signature is verified against:
  --jwks FILE     a JWKS document (kubectl get --raw /openid/v1/jwks > jwks.json);
  (default)       the current cluster's keys, read through the API server's issuer discovery
                  endpoints (/.well-known/openid-configuration, /openid/v1/jwks) with the
                  kubeconfig's credentials; the ServiceAccount and the bound object are then
                  looked up too (metadata only), as the API server does;
  --no-verify     nothing: the token is only decoded ("signature NOT verified").
Only RS256, ES256, ES384 and ES512 are accepted ("none" and HMAC are refused), the key is
chosen by kid and must fit the algorithm. exp and nbf are checked with 60 s of leeway, as the
API server does. With -f, --snapshot or --demo (which hold no keys; add --jwks or --no-verify)
the ServiceAccount and its annotations come from that input.

The token is shown as a fingerprint: sha256: and the first 12 hex digits of its SHA-256 (the
first 8 are those kwid scan's KW-TOK-003 evidence shows).

Exit codes: 0 valid (or, with --no-verify, decoded and within its validity period), 1 error
(unreadable or malformed token, bad JWKS, cluster unreachable), 2 usage error, 3 a finding:
the signature does not verify, the token is expired or not yet valid, or its ServiceAccount
or bound object is gone.`,
		Example: `  kubectl create token builder -n ci | kwid token inspect -
  kwid token inspect --token-file token.jwt --jwks jwks.json -o json
  kwid token inspect --token-file token.jwt --jwks jwks.json --snapshot prod.json.gz
  kwid token inspect --no-verify - < /var/run/secrets/kubernetes.io/serviceaccount/token`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("want at most one TOKEN (or - for stdin)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, g, streams, args)
		},
	}
	o.in.addFlags(cmd.Flags())
	o.in.addCloudFlag(cmd.Flags())
	cmd.Flags().StringVar(&o.tokenFile, "token-file", "", "read the token from this file")
	cmd.Flags().StringVar(&o.jwks, "jwks", "", "JWKS file to verify the signature with (instead of the cluster's)")
	cmd.Flags().BoolVar(&o.noVerify, "no-verify", false, "only decode: do not verify the signature, read no cluster")
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: table, json or yaml")
	return cmd
}

func (o *tokenInspectOptions) run(cmd *cobra.Command, g *globalOptions, streams genericiooptions.IOStreams, args []string) error {
	if err := oneOf("output", o.output, []string{"table", "json", "yaml"}); err != nil {
		return err
	}
	offline := len(o.in.files) > 0 || o.in.snapshot != "" || o.in.demo
	switch {
	case o.jwks != "" && o.noVerify:
		return usageErrorf("use --jwks or --no-verify, not both")
	case offline && o.jwks == "" && !o.noVerify:
		return usageErrorf("-f, --snapshot and --demo hold no signing keys: add --jwks FILE to verify, or --no-verify to only decode")
	}
	raw, where, err := o.readToken(streams.In, args)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	opts := token.Options{Now: time.Now()}
	switch {
	case o.jwks != "":
		data, err := readLimited(o.jwks, nil, token.MaxJWKSSize)
		if err != nil {
			return fmt.Errorf("reading --jwks: %w", err)
		}
		if opts.Keys, err = token.ParseJWKS(data); err != nil {
			return fmt.Errorf("reading --jwks %s: %w", o.jwks, err)
		}
		opts.KeySource = o.jwks
	case o.noVerify:
		opts.NoKeysReason = "--no-verify"
	}
	var inv *cloud.Inventory
	server := ""
	switch {
	case offline:
		l, err := o.in.load(ctx, g, streams, cmd.Flags())
		if err != nil {
			return err
		}
		opts.Lookup = token.SnapshotLookup(l.snap)
		opts.LookupSource = l.snap.Cluster.Source + " " + l.snap.Cluster.Name
		opts.ClusterIssuer = l.snap.Cluster.OIDCIssuer
		inv, server = l.cloud, l.snap.Cluster.Server
	case o.jwks == "" && !o.noVerify:
		if inv, err = o.in.loadCloud(); err != nil {
			return err
		}
		if err := o.live(cmd, &opts); err != nil {
			return err
		}
	default:
		if inv, err = o.in.loadCloud(); err != nil {
			return err
		}
	}
	if !inv.Empty() {
		opts.Roles = cloudRoleFinder(inv, server, opts.ClusterIssuer)
	}
	r, err := token.Inspect(ctx, raw, opts)
	if err != nil {
		return fmt.Errorf("reading the token (%s): %w", where, err)
	}
	if opts.Roles != nil {
		r.Notes = append(r.Notes, cloudIssuerNote(inv, server, opts.ClusterIssuer))
	}
	if o.output != "table" {
		err = encodeStructured(streams.Out, o.output, r)
	} else {
		err = writeTokenReport(streams.Out, r)
	}
	if err != nil {
		return err
	}
	if !r.Valid() {
		return &exitError{code: ExitFindings}
	}
	return nil
}

// readToken reads the token from the argument, stdin or --token-file and says where from.
func (o *tokenInspectOptions) readToken(stdin io.Reader, args []string) (string, string, error) {
	switch {
	case o.tokenFile != "" && len(args) > 0:
		return "", "", usageErrorf("give the token as an argument or with --token-file, not both")
	case o.tokenFile != "":
		b, err := readLimited(o.tokenFile, stdin, token.MaxSize)
		if err != nil {
			return "", "", fmt.Errorf("reading --token-file: %w", err)
		}
		return string(b), o.tokenFile, nil
	case len(args) == 1 && args[0] != "-":
		return args[0], "argument", nil
	}
	if len(args) == 0 {
		if f, ok := stdin.(*os.File); ok && isTerminal(f) {
			hint := ""
			if o.in.kube.BearerToken != nil && *o.in.kube.BearerToken != "" {
				hint = " (--token is kubectl's flag: the bearer token kwid uses to reach the API server)"
			}
			return "", "", usageErrorf("give the token to inspect as an argument, - for stdin, or --token-file FILE%s", hint)
		}
	}
	b, err := readLimited("-", stdin, token.MaxSize)
	if err != nil {
		return "", "", fmt.Errorf("reading the token from stdin: %w", err)
	}
	return string(b), "stdin", nil
}

// readLimited reads a file (- for stdin) of at most limit bytes.
func readLimited(path string, stdin io.Reader, limit int) ([]byte, error) {
	r := stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// live reads the cluster's issuer and keys through OIDC discovery and looks objects up there.
func (o *tokenInspectOptions) live(cmd *cobra.Command, opts *token.Options) error {
	const hint = "give --jwks FILE to verify offline, or --no-verify to only decode"
	raw, err := o.in.kube.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w; %s", err, hint)
	}
	if len(raw.Clusters) == 0 && os.Getenv("KUBERNETES_SERVICE_HOST") == "" && (o.in.kube.APIServer == nil || *o.in.kube.APIServer == "") {
		return fmt.Errorf("no cluster to read the signing keys from (no kubeconfig found: set KUBECONFIG or --kubeconfig); %s", hint)
	}
	cfg, err := o.in.kube.ToRESTConfig()
	if err != nil {
		return fmt.Errorf("no cluster to read the signing keys from (%w); %s", err, hint)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return err
	}
	d, err := token.FetchDiscovery(cmd.Context(), cs.CoreV1().RESTClient())
	if err != nil {
		return fmt.Errorf("%w; %s", err, hint)
	}
	name := raw.CurrentContext
	if o.in.kube.Context != nil && *o.in.kube.Context != "" {
		name = *o.in.kube.Context
	}
	where := fmt.Sprintf("cluster %s (%s)", name, cfg.Host)
	opts.Keys, opts.KeySource = d.Keys, where+" "+token.JWKSPath
	opts.ClusterIssuer = d.Issuer
	opts.Lookup, opts.LookupSource = token.LiveLookup(md), where
	return nil
}

func writeTokenReport(w io.Writer, r *token.Report) error {
	var b strings.Builder
	c := r.Claims
	line := func(label, format string, args ...any) {
		fmt.Fprintf(&b, "%-16s %s\n", label+":", fmt.Sprintf(format, args...))
	}
	kid := ""
	if r.Header.Kid != "" {
		kid = ", kid " + r.Header.Kid
	}
	fmt.Fprintf(&b, "Token %s (%d bytes, %s%s)\n", r.Fingerprint, r.Size, r.Header.Alg, kid)
	switch r.Kind {
	case token.Bound:
		line("Kind", "bound ServiceAccount token (TokenRequest API)")
	case token.Legacy:
		line("Kind", "legacy ServiceAccount token (Secret-based, never expires)")
	default:
		line("Kind", "not a Kubernetes ServiceAccount token")
	}
	line("Issuer", "%s", orNone(c.Issuer))
	line("Subject", "%s", orNone(c.Subject))
	line("Audiences", "%s", orNone(strings.Join(c.Audience, ", ")))
	if r.ServiceAccount != nil {
		line("ServiceAccount", "%s%s", strings.TrimPrefix(r.ServiceAccount.String(), "ServiceAccount "), uidSuffix(r.ServiceAccount.UID))
	}
	if r.BoundObject != nil {
		line("Bound to", "%s%s", r.BoundObject, uidSuffix(r.BoundObject.UID))
	}
	at := func(t *time.Time) string {
		return t.Format(time.RFC3339)
	}
	v := r.Validity
	if c.IssuedAt != nil {
		line("Issued", "%s (%s)", at(c.IssuedAt), v.Age)
	}
	if c.NotBefore != nil && (c.IssuedAt == nil || !c.NotBefore.Equal(*c.IssuedAt)) {
		line("Not before", "%s", at(c.NotBefore))
	}
	switch {
	case c.Expiry == nil:
		line("Expires", "never")
	case v.Expired != "":
		line("Expires", "%s (expired %s ago%s)", at(c.Expiry), v.Expired, lifetime(v.Lifetime))
	default:
		line("Expires", "%s (in %s%s)", at(c.Expiry), v.Remaining, lifetime(v.Lifetime))
	}
	if c.Kubernetes != nil && c.Kubernetes.WarnAfter != nil {
		past := ""
		if v.PastWarnAfter {
			past = " (passed: its use is logged as stale)"
		}
		line("Warn after", "%s%s", at(c.Kubernetes.WarnAfter), past)
	}
	switch s := r.Signature; s.Status {
	case token.Verified:
		line("Signature", "verified (%s, key %s from %s)", r.Header.Alg, orNone(s.KeyID), s.Source)
	case token.Failed:
		line("Signature", "FAILED: %s (keys from %s)", s.Reason, s.Source)
	default:
		line("Signature", "NOT verified (%s)", s.Reason)
	}
	line("Validity", "%s at %s (exp and nbf checked with %d s leeway, as the API server does)", v.Status, v.Now, v.LeewaySeconds)
	for _, oc := range r.Objects {
		detail := ""
		if oc.Detail != "" {
			detail = ": " + oc.Detail
		}
		line("In cluster", "%s %s%s", oc.Ref, oc.Status, detail)
	}
	if len(r.CloudRoles) == 0 {
		line("Cloud roles", "none found")
	} else {
		b.WriteString("Cloud roles:\n")
		for _, cr := range r.CloudRoles {
			aud := fmt.Sprintf("this token has audience %s: it can be exchanged", cr.Audience)
			if !cr.AudienceOK {
				aud = fmt.Sprintf("the exchange needs audience %s, which this token lacks (the token the cloud's webhook projects into pods has it)", cr.Audience)
			}
			fmt.Fprintf(&b, "  %s %s %s (%s); %s\n", cr.Cloud, cr.Mechanism, cr.Role, cr.From, aud)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "Note: %s\n", n)
	}
	switch {
	case !r.Valid():
		b.WriteString("Result: INVALID\n")
		for _, f := range r.Findings {
			fmt.Fprintf(&b, "  - %s\n", f)
		}
	case r.Signature.Status == token.Verified:
		b.WriteString("Result: valid\n")
	default:
		b.WriteString("Result: decoded, signature NOT verified\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func uidSuffix(uid string) string {
	if uid == "" {
		return ""
	}
	return " (uid " + uid + ")"
}

func lifetime(l string) string {
	if l == "" {
		return ""
	}
	return "; lifetime " + l
}
