package devstack

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// TestServerGivesUpOnSlowRequests: a client that sends less body than its
// Content-Length, or only part of its headers, is answered or cut off
// within the read timeout instead of holding the connection for ever.
func TestServerGivesUpOnSlowRequests(t *testing.T) {
	const timeout = 300 * time.Millisecond
	// The handler reads the whole body first, as the API's JSON decoding does.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, "incomplete body", http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(h, timeout)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(listener) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve = %v", err)
		}
	})

	for _, test := range []struct {
		name, request string
		wantStatus    string
		mayClose      bool // closing the connection without an answer is fine too
	}{
		{"short body", "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"username\":", "400", false},
		{"half the headers", "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Le", "400", true},
		{"complete request", "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", "204", false},
	} {
		t.Run(test.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, test.request); err != nil {
				t.Fatal(err)
			}
			began := time.Now()
			// Far longer than the timeout: a server without one hangs here.
			conn.SetReadDeadline(began.Add(10 * timeout))
			status, err := bufio.NewReader(conn).ReadString('\n')
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("no answer and no close after %v: the server waits for ever", time.Since(began))
			}
			if !(test.mayClose && err != nil && status == "") && !strings.HasPrefix(status, "HTTP/1.1 "+test.wantStatus) {
				t.Errorf("answer %q (%v), want %s", status, err, test.wantStatus)
			}
			if took := time.Since(began); took > 5*timeout {
				t.Errorf("took %v, want about the %v timeout", took, timeout)
			}
		})
	}
}

func TestNewHTTPServerDefaults(t *testing.T) {
	for _, test := range []struct {
		read, wantRead, wantHeader time.Duration
	}{
		{0, DefaultReadTimeout, maxReadHeaderTimeout},
		{time.Second, time.Second, time.Second},
		{time.Minute, time.Minute, maxReadHeaderTimeout},
	} {
		srv := newHTTPServer(http.NotFoundHandler(), test.read)
		if srv.ReadTimeout != test.wantRead || srv.ReadHeaderTimeout != test.wantHeader || srv.IdleTimeout != idleTimeout {
			t.Errorf("newHTTPServer(%v) timeouts = read %v, header %v, idle %v; want %v, %v, %v",
				test.read, srv.ReadTimeout, srv.ReadHeaderTimeout, srv.IdleTimeout, test.wantRead, test.wantHeader, idleTimeout)
		}
	}
}

// TestLocalMailEmpty: GET /_local/mail is a JSON array from the start.
func TestLocalMailEmpty(t *testing.T) {
	s := &Stack{mail: &recordingMailer{}}
	rec := httptest.NewRecorder()
	s.serveMail(rec, httptest.NewRequest("GET", "/_local/mail", nil))
	if got := strings.TrimSpace(rec.Body.String()); rec.Code != 200 || got != "[]" {
		t.Errorf("GET /_local/mail with no mail = %d %s, want 200 []", rec.Code, got)
	}
}
