package admission

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"

	"github.com/kwid-dev/kwid/internal/admission/admissiontest"
)

// startServer serves the test cluster's webhook over TLS on 127.0.0.1 with short timeouts.
func startServer(t *testing.T) (url string, certs *admissiontest.Certs, dir string) {
	t.Helper()
	dir = t.TempDir()
	certs = admissiontest.NewCerts(t, dir, "first")
	h, err := NewHandler(Options{State: testState(t)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{CertFile: certs.CertFile, KeyFile: certs.KeyFile, Handler: h,
		ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: time.Second, WriteTimeout: 2 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "https://" + ln.Addr().String(), certs, dir
}

func tlsClient(certs *admissiontest.Certs) *http.Client {
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.Pool}}}
}

// TestServerRobustness: bodies that are not AdmissionReviews get 400 with a message,
// oversized bodies 413, slow clients are cut off by the timeouts, and the server keeps
// answering afterwards.
func TestServerRobustness(t *testing.T) {
	url, certs, _ := startServer(t)
	client := tlsClient(certs)
	good := review(t, admissionv1.Create, compliantPod, false)

	for _, tc := range []struct {
		name        string
		method      string
		contentType string
		body        []byte
		want        int
		msg         string
	}{
		{name: "not JSON", body: []byte("hello"), want: 400, msg: "malformed AdmissionReview"},
		{name: "empty", body: nil, want: 400, msg: "empty request body"},
		{name: "truncated", body: good[:len(good)/2], want: 400, msg: "malformed AdmissionReview"},
		{name: "trailing garbage", body: append(append([]byte{}, good...), "}{"...), want: 400, msg: "malformed AdmissionReview"},
		{name: "another kind", body: []byte(`{"apiVersion":"v1","kind":"Pod"}`), want: 400, msg: "want admission.k8s.io/v1 AdmissionReview"},
		{name: "v1beta1", body: []byte(`{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}`), want: 400, msg: "want admission.k8s.io/v1"},
		{name: "no request", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), want: 400, msg: "no request"},
		{name: "no uid", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{}}`), want: 400, msg: "no uid"},
		{name: "wrong types", body: []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":5}}`), want: 400, msg: "malformed AdmissionReview"},
		{name: "oversized", body: append(append([]byte{}, good[:len(good)-2]...), bytes.Repeat([]byte(" "), MaxBodyBytes)...), want: 413, msg: "request body over"},
		{name: "GET", method: http.MethodGet, want: 405, msg: "POST an AdmissionReview"},
		{name: "YAML content type", contentType: "application/yaml", body: good, want: 415, msg: "want application/json"},
		{name: "good", body: good, want: 200, msg: `"allowed":true`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, url+ValidatePath, bytes.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			ct := tc.contentType
			if ct == "" {
				ct = "application/json"
			}
			req.Header.Set("Content-Type", ct)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.want || !strings.Contains(string(body), tc.msg) {
				t.Errorf("status %d %q, want %d containing %q", resp.StatusCode, body, tc.want, tc.msg)
			}
		})
	}

	// Slow clients: one that never finishes its headers, one that never finishes its
	// body. The server closes both connections after its timeouts (300 ms, 1 s).
	for _, tc := range []struct {
		name    string
		partial string
	}{
		{"slow headers", "POST /validate HTTP/1.1\r\nHost: kwid\r\nContent-Type: application/json\r\n"},
		{"slow body", "POST /validate HTTP/1.1\r\nHost: kwid\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"apiVersion\":"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := tls.Dial("tcp", strings.TrimPrefix(url, "https://"), &tls.Config{RootCAs: certs.Pool})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tc.partial); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err = io.ReadAll(conn) // returns when the server closes the connection
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("server kept a slow client's connection open for %v", time.Since(start))
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("slow client cut off after %v", d)
			}
		})
	}

	// Still serving.
	resp, err := client.Post(url+ValidatePath, "application/json", bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("after the slow clients: status %d", resp.StatusCode)
	}
}

// TestServerReloadsCertificate: a new certificate written over the files is served to
// new connections without a restart.
func TestServerReloadsCertificate(t *testing.T) {
	url, first, dir := startServer(t)
	if resp, err := tlsClient(first).Get(url + HealthzPath); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	second := admissiontest.NewCerts(t, dir, "second")
	deadline := time.Now().Add(15 * time.Second)
	for {
		c := tlsClient(second)
		c.Transport.(*http.Transport).DisableKeepAlives = true
		resp, err := c.Get(url + HealthzPath)
		if err == nil {
			resp.Body.Close()
			if resp.TLS.PeerCertificates[0].Subject.CommonName != "second" {
				t.Errorf("served %q", resp.TLS.PeerCertificates[0].Subject.CommonName)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("new certificate not served after 15 s: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// FuzzServeHTTP: no body makes the handler panic or answer outside its contract.
func FuzzServeHTTP(f *testing.F) {
	f.Add(review(f, admissionv1.Create, awsKeysPod, false))
	f.Add(review(f, admissionv1.Update, adminToDefault, true))
	f.Add(review(f, admissionv1.Create, wildcardRole, false))
	f.Add(review(f, admissionv1.Create, configMap, false))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Pod"},"operation":"CREATE","object":{"spec":{"containers":[{"env":[{"name":"AWS_ACCESS_KEY_ID","value":"AKIAABCDEFGHIJKLMNOP"}]}]}}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"group":"rbac.authorization.k8s.io","version":"v1","kind":"ClusterRoleBinding"},"operation":"CREATE","object":{"roleRef":{"kind":"ClusterRole","name":"cluster-admin"},"subjects":[{"kind":"Group","name":"system:serviceaccounts:team"}]}}}`))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"version":"v1","kind":"Secret"},"operation":"UPDATE","object":"x"}}`))
	h, err := NewHandler(Options{State: testState(f)})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, ValidatePath, bytes.NewReader(body)))
		switch rec.Code {
		case http.StatusOK:
			var out admissionv1.AdmissionReview
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.Response == nil || out.Response.UID == "" {
				t.Fatalf("200 without a valid AdmissionReview response: %v %s", err, rec.Body)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}
