package devstack

import (
	"context"
	"encoding/json"
	"html/template"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/mailworker"
	"github.com/rekey/rekey/shared/rekey"
)

// SentEmail is one email the system handed to SES, as GET /_local/mail
// shows it. (moto keeps only the HTML part and no send time, so the local
// runner records what it sends on the way through.)
type SentEmail struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
	// MessageID is the id SES (moto) gave the message: what a task records
	// and what POST /_local/ses-events events name.
	MessageID string    `json:"messageId"`
	SentAt    time.Time `json:"sentAt"`
}

// recordingMailer sends through the real mailer (SES on moto) and keeps a
// copy of every email SES accepted.
type recordingMailer struct {
	next mailworker.Mailer
	mu   sync.Mutex
	sent []SentEmail
}

func (m *recordingMailer) Send(ctx context.Context, msg mail.Message) (string, error) {
	id, err := m.next.Send(ctx, msg)
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, SentEmail{To: msg.To, Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, MessageID: id, SentAt: time.Now().UTC()})
	return id, nil
}

// Sent returns the emails sent so far, oldest first; never nil, so that
// GET /_local/mail answers [] rather than null before the first email.
func (m *recordingMailer) Sent() []SentEmail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]SentEmail{}, m.sent...)
}

// serveMail is GET /_local/mail: every email sent, newest last, as JSON for
// clients; for a browser (Accept: text/html) a mail viewer, newest first.
func (s *Stack) serveMail(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	sent := s.mail.Sent()
	if !wantsHTML(r) {
		writeJSON(w, sent)
		return
	}
	type row struct {
		N int
		SentEmail
	}
	rows := make([]row, 0, len(sent))
	for i := len(sent) - 1; i >= 0; i-- {
		rows = append(rows, row{i, sent[i]})
	}
	writeViewer(w, mailListPage, rows)
}

// serveMessage is GET /_local/mail/{n}: the n-th email sent (from 0, the
// oldest), for a browser: its HTML part in a sandboxed frame, where no
// script runs, and its text part with the links made clickable.
func (s *Stack) serveMessage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	sent := s.mail.Sent()
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 0 || n >= len(sent) {
		http.Error(w, "No such email.", http.StatusNotFound)
		return
	}
	if !wantsHTML(r) {
		writeJSON(w, sent[n])
		return
	}
	m := sent[n]
	writeViewer(w, mailMessagePage, struct {
		SentEmail
		// Frame is the HTML part with links opening in the viewer's tab
		// rather than inside the frame.
		Frame string
		Text  template.HTML
	}{m, `<base target="_top">` + m.HTML, linkify(m.Text)})
}

// wantsHTML says whether the client asked for a page rather than JSON.
func wantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// viewerCSP lets the viewer's pages and the email frames show styles and
// inline images but run no script, load nothing from elsewhere and post no
// form; the frame's sandbox adds the same for the email itself.
const viewerCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; form-action 'none'; frame-ancestors 'none'"

func writeViewer(w http.ResponseWriter, page *template.Template, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", viewerCSP)
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := page.Execute(w, data); err != nil {
		http.Error(w, "The mail viewer failed: "+err.Error(), http.StatusInternalServerError)
	}
}

// urlPattern finds links in a text part.
var urlPattern = regexp.MustCompile(`https?://[^\s<>"']+`)

// linkify escapes text and makes each http(s) URL in it a link.
func linkify(text string) template.HTML {
	var b strings.Builder
	last := 0
	for _, loc := range urlPattern.FindAllStringIndex(text, -1) {
		b.WriteString(template.HTMLEscapeString(text[last:loc[0]]))
		u := template.HTMLEscapeString(text[loc[0]:loc[1]])
		b.WriteString(`<a href="` + u + `">` + u + `</a>`)
		last = loc[1]
	}
	b.WriteString(template.HTMLEscapeString(text[last:]))
	return template.HTML(b.String())
}

const viewerStyle = `<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem;color:#1b1b1b}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}
td.when{white-space:nowrap;color:#555}a{color:#0b57d0}dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}
dt{color:#555}dd{margin:0;overflow-wrap:anywhere}iframe{width:100%;height:28rem;border:1px solid #ccc}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;padding:.75rem;border:1px solid #ddd}
</style>`

var mailListPage = template.Must(template.New("list").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Local mail ({{len .}})</title>` + viewerStyle + `</head><body>
<h1>Local mail</h1>
<p>Every email Rekey handed to SES (moto) since the local runner started, newest first. Clients get JSON (oldest first) from the same address..</p>
{{if .}}<table id="mail-list"><thead><tr><th>Sent</th><th>To</th><th>Subject</th></tr></thead><tbody>
{{range .}}<tr><td class="when">{{.SentAt.Format "2006-01-02 15:04:05"}}</td><td>{{.To}}</td><td><a href="/_local/mail/{{.N}}">{{.Subject}}</a></td></tr>
{{end}}</tbody></table>{{else}}<p id="mail-empty">No email sent yet.</p>{{end}}
</body></html>`))

var mailMessagePage = template.Must(template.New("message").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Subject}} · Local mail</title>` + viewerStyle + `</head><body>
<p><a href="/_local/mail">← All mail</a></p>
<h1 id="mail-subject">{{.Subject}}</h1>
<dl><dt>To</dt><dd id="mail-to">{{.To}}</dd><dt>Sent</dt><dd>{{.SentAt.Format "2006-01-02 15:04:05 MST"}}</dd><dt>SES message id</dt><dd><code id="mail-message-id">{{.MessageID}}</code></dd></dl>
<h2>HTML part</h2>
<iframe id="mail-html" title="The email's HTML part" sandbox="allow-popups allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation" srcdoc="{{.Frame}}"></iframe>
<h2>Text part</h2>
<pre id="mail-text">{{.Text}}</pre>
</body></html>`))

// maxSESEvent bounds POST /_local/ses-events; SES events are a few KB.
const maxSESEvent = 256 << 10

// serveSESEvent is POST /_local/ses-events: one SES event exactly as
// EventBridge delivers it (moto emits none), handed to the mail-events
// handler the deployed function runs. 204 when recorded; 400 for an event
// the function would drop as unusable, 404 for a message id no task
// recorded (the function drops it too); 500 when recording failed, which
// the function would retry.
func (s *Stack) serveSESEvent(w http.ResponseWriter, r *http.Request) {
	var ev events.CloudWatchEvent
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSESEvent))
	if err := dec.Decode(&ev); err != nil {
		writeLocalError(w, http.StatusBadRequest, rekey.Errorf(rekey.ECodeInvalidJSON, "The body is not one EventBridge event: %v", err))
		return
	}
	err := s.App.MailEvents.Record(withFunction(r.Context(), functionMailEvents), ev)
	switch code := rekey.ErrorCode(err); {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case code == rekey.ECodeInvalidInput:
		writeLocalError(w, http.StatusBadRequest, err)
	case code == rekey.ECodeNotFound:
		writeLocalError(w, http.StatusNotFound, rekey.Errorf(rekey.ECodeNotFound, "No task result has this message id; the function logs and drops such events."))
	default:
		writeLocalError(w, http.StatusInternalServerError, rekey.Errorf(rekey.ECodeInternal, "Recording the event failed (the function would retry it): %v", err))
	}
}

// writeLocalError writes err in the API's error shape.
func writeLocalError(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": rekey.ErrorCode(err), "message": rekey.ErrorMessage(err)}})
}
