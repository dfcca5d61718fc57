package console

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestGzipOnFirstRequest: building the handler compresses nothing (it is
// the console Lambda's cold start); a file's first gzip request does.
func TestGzipOnFirstRequest(t *testing.T) {
	h, err := newHandler(webFiles)
	if err != nil {
		t.Fatal(err)
	}
	for p, f := range h.pages {
		if f.gz != nil {
			t.Errorf("page %s was compressed when the handler was built", p)
		}
	}
	for name, f := range h.assets {
		if f.gz != nil {
			t.Errorf("asset %s was compressed when the handler was built", name)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("GET / with gzip = %d, Content-Encoding %q; want 200 gzip", rec.Code, rec.Header().Get("Content-Encoding"))
	}
	if f := h.pages["/"]; f == nil || f.gz == nil {
		t.Errorf("page / has no gzip copy after a gzip request")
	}
}
