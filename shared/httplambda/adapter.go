// Package httplambda runs a standard net/http handler behind API Gateway's
// HTTP API (payload format 2.0), so every API Lambda and the local runner
// serve requests through the very same http.Handler.
package httplambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Handler adapts an http.Handler to a Lambda handler for HTTP API events.
type Handler struct {
	h http.Handler
}

// New returns a Lambda handler serving h.
func New(h http.Handler) Handler { return Handler{h: h} }

// Invoke serves one API Gateway event. It never returns an error for a
// request the handler answered; an error means the event itself was unusable.
func (a Handler) Invoke(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	req, err := Request(ctx, ev)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, req)
	return Response(rec.Result().StatusCode, rec.Header(), rec.Body.Bytes()), nil
}

// Request builds the *http.Request that an HTTP API event describes. The
// request id header is always API Gateway's own, so a client cannot choose it,
// and RemoteAddr is the source IP API Gateway saw.
func Request(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		decoded, err := base64.StdEncoding.DecodeString(ev.Body)
		if err != nil {
			return nil, fmt.Errorf("httplambda: decode base64 body: %w", err)
		}
		body = decoded
	}
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		return nil, fmt.Errorf("httplambda: event has no requestContext.http.method")
	}
	path := ev.RawPath
	if path == "" {
		path = "/"
	}
	target := path
	if ev.RawQueryString != "" {
		target += "?" + ev.RawQueryString
	}
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("httplambda: build request: %w", err)
	}
	for k, v := range ev.Headers {
		// API Gateway joins repeated headers with commas, as HTTP allows.
		req.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	req.Header.Del("X-Request-Id")
	if id := ev.RequestContext.RequestID; id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	req.Host = ev.RequestContext.DomainName
	if req.Host == "" {
		req.Host = req.Header.Get("Host")
	}
	req.RemoteAddr = net.JoinHostPort(ev.RequestContext.HTTP.SourceIP, "0")
	req.ContentLength = int64(len(body))
	req.RequestURI = target
	return req, nil
}

// Response converts a recorded answer into the HTTP API response shape:
// Set-Cookie headers go to Cookies, other repeated headers are joined, and a
// body that is not valid UTF-8 is base64-encoded.
func Response(status int, header http.Header, body []byte) events.APIGatewayV2HTTPResponse {
	resp := events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{}}
	for k, vs := range header {
		if http.CanonicalHeaderKey(k) == "Set-Cookie" {
			resp.Cookies = append(resp.Cookies, vs...)
			continue
		}
		resp.Headers[k] = strings.Join(vs, ", ")
	}
	if utf8.Valid(body) {
		resp.Body = string(body)
	} else {
		resp.Body = base64.StdEncoding.EncodeToString(body)
		resp.IsBase64Encoded = true
	}
	return resp
}
