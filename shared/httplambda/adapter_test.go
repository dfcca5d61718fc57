package httplambda

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
)

func TestInvokeRoundTrip(t *testing.T) {
	var got struct {
		method, path, query, body, cookie, requestID, remote, host string
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got.method, got.path, got.query, got.body = r.Method, r.URL.Path, r.URL.RawQuery, string(b)
		got.cookie, got.requestID, got.remote, got.host = r.Header.Get("Cookie"), r.Header.Get("X-Request-Id"), r.RemoteAddr, r.Host
		http.SetCookie(w, &http.Cookie{Name: "a", Value: "1"})
		http.SetCookie(w, &http.Cookie{Name: "b", Value: "2"})
		w.Header().Add("Vary", "Origin")
		w.Header().Add("Vary", "Cookie")
		w.WriteHeader(http.StatusTeapot)
		w.Write([]byte{0xff, 0x00})
	})
	ev := events.APIGatewayV2HTTPRequest{
		RawPath:         "/api/users",
		RawQueryString:  "role=student&limit=2",
		Headers:         map[string]string{"content-type": "application/json", "x-request-id": "client-chosen-id"},
		Cookies:         []string{"x=1", "y=2"},
		Body:            base64.StdEncoding.EncodeToString([]byte(`{"a":1}`)),
		IsBase64Encoded: true,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RequestID:  "gateway-id-123",
			DomainName: "api.example.org",
			HTTP:       events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "POST", SourceIP: "203.0.113.9"},
		},
	}
	resp, err := New(h).Invoke(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	want := struct{ method, path, query, body, cookie, requestID, remote, host string }{
		"POST", "/api/users", "role=student&limit=2", `{"a":1}`, "x=1; y=2", "gateway-id-123", "203.0.113.9:0", "api.example.org",
	}
	if got != want {
		t.Errorf("request = %+v, want %+v", got, want)
	}
	if resp.StatusCode != http.StatusTeapot {
		t.Errorf("status = %d, want %d", resp.StatusCode, http.StatusTeapot)
	}
	if diff := cmp.Diff([]string{"a=1", "b=2"}, resp.Cookies); diff != "" {
		t.Errorf("cookies (-want +got):\n%s", diff)
	}
	if resp.Headers["Vary"] != "Origin, Cookie" {
		t.Errorf("Vary = %q, want joined values", resp.Headers["Vary"])
	}
	if !resp.IsBase64Encoded || resp.Body != base64.StdEncoding.EncodeToString([]byte{0xff, 0x00}) {
		t.Errorf("binary body = %q (base64 %v), want base64", resp.Body, resp.IsBase64Encoded)
	}
}

func TestRequestRejectsUnusableEvents(t *testing.T) {
	for _, test := range []struct {
		name string
		ev   events.APIGatewayV2HTTPRequest
	}{
		{"no method", events.APIGatewayV2HTTPRequest{RawPath: "/"}},
		{"bad base64", events.APIGatewayV2HTTPRequest{RawPath: "/", Body: "%%%", IsBase64Encoded: true,
			RequestContext: events.APIGatewayV2HTTPRequestContext{HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{Method: "GET"}}}},
	} {
		t.Run(test.name, func(t *testing.T) {
			if _, err := Request(context.Background(), test.ev); err == nil {
				t.Errorf("Request(%s) = nil error, want error", test.name)
			}
		})
	}
}
