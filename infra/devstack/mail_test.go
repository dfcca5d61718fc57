package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/rekey/rekey/shared/app"
	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/mailevents"
	"github.com/rekey/rekey/shared/rekey"
)

// numberingMailer accepts every email and gives it the next message id.
type numberingMailer struct{ n int }

func (m *numberingMailer) Send(context.Context, mail.Message) (string, error) {
	m.n++
	return fmt.Sprintf("ses-%d", m.n), nil
}

// stackWithMail is a Stack whose mailbox holds the given emails, sent in
// that order.
func stackWithMail(t *testing.T, msgs ...mail.Message) *Stack {
	t.Helper()
	s := &Stack{mail: &recordingMailer{next: &numberingMailer{}}}
	for _, m := range msgs {
		if _, err := s.mail.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func get(t *testing.T, h http.Handler, path, accept string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// localRoutes is the local-only routes as the local runner mounts them.
func (s *Stack) localRoutes() http.Handler {
	mux := http.NewServeMux()
	s.addLocalRoutes(mux)
	return mux
}

const browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

func TestLocalMailJSONCarriesMessageIDs(t *testing.T) {
	s := stackWithMail(t, mail.Message{To: "a@example.org", Subject: "first"}, mail.Message{To: "b@example.org", Subject: "second"})
	rec := get(t, s.localRoutes(), "/_local/mail", "*/*")
	var got []SentEmail
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("GET /_local/mail = %s %q, %v; want JSON", rec.Header().Get("Content-Type"), rec.Body, err)
	}
	if len(got) != 2 || got[0].Subject != "first" || got[0].MessageID != "ses-1" || got[1].MessageID != "ses-2" {
		t.Errorf("GET /_local/mail = %+v, want first (ses-1) then second (ses-2)", got)
	}
	if !strings.Contains(rec.Body.String(), `"messageId":"ses-1"`) {
		t.Errorf("JSON %s has no messageId field", rec.Body)
	}
}

func TestLocalMailViewer(t *testing.T) {
	hostile := `<p>Hi <b>Jo</b></p><script>alert(1)</script><a href="https://rekey.example.org/reset-password?token=t0k">Reset</a>`
	s := stackWithMail(t,
		mail.Message{To: "old@example.org", Subject: "older"},
		mail.Message{To: "jo@example.org", Subject: `Reset <now> & "then"`, HTML: hostile,
			Text: "Open https://rekey.example.org/reset-password?token=t0k&x=<1> within 15 minutes."},
	)
	h := s.localRoutes()

	list := get(t, h, "/_local/mail", browserAccept)
	body := list.Body.String()
	if !strings.HasPrefix(list.Header().Get("Content-Type"), "text/html") || !strings.Contains(list.Header().Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("viewer headers = %v, want HTML with a strict CSP", list.Header())
	}
	newer, older := strings.Index(body, `href="/_local/mail/1"`), strings.Index(body, `href="/_local/mail/0"`)
	if newer < 0 || older < 0 || newer > older {
		t.Errorf("list links at %d (newer) and %d (older), want both, newest first:\n%s", newer, older, body)
	}
	if strings.Contains(body, "<now>") || !strings.Contains(body, "Reset &lt;now&gt; &amp; &#34;then&#34;") {
		t.Errorf("the subject is not escaped in the list:\n%s", body)
	}

	page := get(t, h, "/_local/mail/1", browserAccept).Body.String()
	for _, want := range []string{
		`sandbox="allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation"`,
		`srcdoc="&lt;base target=&#34;_top&#34;&gt;&lt;p&gt;Hi &lt;b&gt;Jo&lt;/b&gt;&lt;/p&gt;&lt;script&gt;`, // the email, as an attribute value
		`<a href="https://rekey.example.org/reset-password?token=t0k&amp;x=">https://rekey.example.org/reset-password?token=t0k&amp;x=</a>&lt;1&gt;`,
		`<code id="mail-message-id">ses-2</code>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("message page lacks %s:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<script>") || strings.Contains(page, "<b>Jo") {
		t.Errorf("the email's HTML reached the page itself:\n%s", page)
	}

	for _, path := range []string{"/_local/mail/2", "/_local/mail/-1", "/_local/mail/x"} {
		if rec := get(t, h, path, browserAccept); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, rec.Code)
		}
	}
	empty := get(t, (&Stack{mail: &recordingMailer{}}).localRoutes(), "/_local/mail", browserAccept).Body.String()
	if !strings.Contains(empty, "No email sent yet.") {
		t.Errorf("empty viewer = %s, want it to say so", empty)
	}
}

// memRecorder records mail events by message id, applying
// rekey.NextMailState as the store does.
type memRecorder struct {
	mu     sync.Mutex
	states map[string]string
}

func (r *memRecorder) RecordMailEvent(_ context.Context, ev rekey.MailEvent) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	state, ok := r.states[ev.MessageID]
	if !ok {
		return fmt.Errorf("memRecorder: %s: %w", ev.MessageID, rekey.ErrNotFound)
	}
	r.states[ev.MessageID] = rekey.NextMailState(state, ev.Type)
	return nil
}

func TestLocalSESEvents(t *testing.T) {
	sample, err := os.ReadFile("../../events/mail-events.json")
	if err != nil {
		t.Fatal(err)
	}
	const id = "0102019a7c3e5b7f-2c8e4d1a-5b6f-4a3c-9e8d-7f6a5b4c3d2e-000000" // the sample's
	delivered := fmt.Sprintf(`{"version":"0","id":"e-2","detail-type":"Email Delivered","source":"aws.ses","time":"2026-09-01T06:02:15Z",
		"detail":{"eventType":"Delivery","mail":{"timestamp":"2026-09-01T06:02:12.915Z","messageId":%q},"delivery":{"timestamp":"2026-09-01T06:02:14Z"}}}`, id)
	rec := &memRecorder{states: map[string]string{id: "sent"}}
	s := &Stack{App: &app.App{MailEvents: mailevents.NewHandler(rec, nil)}}
	h := s.localRoutes()
	post := func(body string) *httptest.ResponseRecorder {
		r := httptest.NewRecorder()
		h.ServeHTTP(r, httptest.NewRequest(http.MethodPost, "/_local/ses-events", strings.NewReader(body)))
		return r
	}
	for _, test := range []struct {
		name, body string
		status     int
		code       string
		state      string
	}{
		{"the sample bounce", string(sample), http.StatusNoContent, "", "bounced"},
		{"a late delivery after it", delivered, http.StatusNoContent, "", "bounced"},
		{"an unknown message", strings.Replace(delivered, id, "nobody-sent-this", 1), http.StatusNotFound, rekey.ECodeNotFound, "bounced"},
		{"not an SES event", `{"source":"aws.events","detail-type":"Scheduled Event","detail":{}}`, http.StatusBadRequest, rekey.ECodeInvalidInput, "bounced"},
		{"not JSON", `{"source":`, http.StatusBadRequest, rekey.ECodeInvalidJSON, "bounced"},
	} {
		t.Run(test.name, func(t *testing.T) {
			r := post(test.body)
			if r.Code != test.status {
				t.Fatalf("POST /_local/ses-events = %d %s, want %d", r.Code, r.Body, test.status)
			}
			if test.code != "" {
				var e struct{ Error struct{ Code string } }
				if err := json.Unmarshal(r.Body.Bytes(), &e); err != nil || e.Error.Code != test.code {
					t.Errorf("error body = %s, want code %s", r.Body, test.code)
				}
			}
			if got := rec.states[id]; got != test.state {
				t.Errorf("state = %q, want %q", got, test.state)
			}
		})
	}
}

// TestLocalRoutesCarryRequestIDs: API.md says every response carries
// X-Request-Id; the local-only routes bypass the API's middleware, so each
// one, answering well or with an error, must set it itself.
func TestLocalRoutesCarryRequestIDs(t *testing.T) {
	s := stackWithMail(t, mail.Message{To: "a@example.org", Subject: "first"})
	s.App = &app.App{MailEvents: mailevents.NewHandler(&memRecorder{states: map[string]string{}}, nil)}
	h := s.localRoutes()
	for _, test := range []struct {
		method, path, accept, body string
		status                     int
	}{
		{http.MethodGet, "/_local/mail", "*/*", "", http.StatusOK},
		{http.MethodGet, "/_local/mail", browserAccept, "", http.StatusOK},
		{http.MethodGet, "/_local/mail/0", browserAccept, "", http.StatusOK},
		{http.MethodGet, "/_local/mail/9", browserAccept, "", http.StatusNotFound},
		{http.MethodPost, "/_local/ses-events", "", `{"source":`, http.StatusBadRequest},
	} {
		req := httptest.NewRequest(test.method, test.path, strings.NewReader(test.body))
		req.Header.Set("Accept", test.accept)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != test.status || rec.Header().Get("X-Request-Id") == "" {
			t.Errorf("%s %s (Accept %q) = %d, X-Request-Id %q; want %d with a request id",
				test.method, test.path, test.accept, rec.Code, rec.Header().Get("X-Request-Id"), test.status)
		}
	}
}
