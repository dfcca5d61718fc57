package devstack

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/rekey/rekey/shared/mail"
	"github.com/rekey/rekey/shared/mailworker"
)

// SentEmail is one email the system handed to SES, as GET /_local/mail
// shows it. (moto keeps only the HTML part and no send time, so the local
// runner records what it sends on the way through.)
type SentEmail struct {
	To      string    `json:"to"`
	Subject string    `json:"subject"`
	Text    string    `json:"text"`
	HTML    string    `json:"html"`
	SentAt  time.Time `json:"sentAt"`
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
	m.sent = append(m.sent, SentEmail{To: msg.To, Subject: msg.Subject, Text: msg.Text, HTML: msg.HTML, SentAt: time.Now().UTC()})
	return id, nil
}

// Sent returns the emails sent so far, oldest first; never nil, so that
// GET /_local/mail answers [] rather than null before the first email.
func (m *recordingMailer) Sent() []SentEmail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]SentEmail{}, m.sent...)
}

// serveMail is GET /_local/mail: every email sent, newest last.
func (s *Stack) serveMail(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, s.mail.Sent())
}
