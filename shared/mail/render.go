// Package mail renders Rekey's emails and holds what their senders share
// (Message, SendError, Quota); package mail/ses sends them through Amazon
// SES, so that this package needs no AWS SDK. Render is the one place that
// turns a message kind and the recipient's data into a subject, a
// plain-text body and an HTML body (user data escaped); every user-facing
// word is in wording.go. SES sends them as Simple content (SES templates
// are not used, so local moto and AWS behave alike).
package mail

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Kind names one email.
type Kind string

// The emails Rekey sends.
const (
	KindResetLink       Kind = "reset_link"       // an admin's reset link
	KindForgotLink      Kind = "forgot_link"      // a self-service reset link
	KindSSONotice       Kind = "sso_notice"       // "your school signs you in elsewhere"
	KindPasswordChanged Kind = "password_changed" // "your password was changed"
	// KindTeacherBulkNotice tells a school admin that a teacher reset many
	// students' passwords at once.
	KindTeacherBulkNotice Kind = "teacher_bulk_notice"
	// KindTaskFinished tells a bulk task's creator that it finished, with
	// its counts.
	KindTaskFinished Kind = "task_finished"
)

// Data is what an email says about its recipient.
type Data struct {
	Name      string        // how to greet them (first name); "" greets without a name
	Username  string        // the account
	Link      string        // the reset link (link kinds; required)
	ExpiresIn time.Duration // how long the link still works (link kinds)
	School    string        // the school's name (SSO notice)
	SignInURL string        // the school's sign-in page (SSO notice; optional)
	ChangedAt time.Time     // when the password changed (password-changed notice)
	Actor     string        // who acted (teacher's bulk notice)
	Count     int           // how many users it reached (teacher's bulk notice)
	Task      TaskCounts    // the finished task (task finished)
}

// TaskCounts is what the task-finished email says about its task.
type TaskCounts struct {
	Name string
	// Status is the task's final status; the wording's "status.<status>"
	// says it in words.
	Status                                  string
	Total, Succeeded, NoEmail, Failed, Skip int
}

// Message is one rendered email.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// LogValue keeps the recipient and the bodies (which hold reset links) out
// of logs.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(slog.String("subject", m.Subject))
}

// layout is the order of an email's paragraphs around its one action link.
type layout struct {
	before []string
	action string            // the id of the action's label; "" = no action
	url    func(Data) string // the action's address
	need   bool              // whether the email is useless without its action
	after  []string
}

var layouts = map[Kind]layout{
	KindResetLink: {
		before: []string{"reset_link.intro"},
		action: "reset_link.action", url: func(d Data) string { return d.Link }, need: true,
		after: []string{"reset_link.expiry"},
	},
	KindForgotLink: {
		before: []string{"forgot_link.intro"},
		action: "forgot_link.action", url: func(d Data) string { return d.Link }, need: true,
		after: []string{"forgot_link.expiry", "forgot_link.ignore"},
	},
	KindSSONotice: {
		before: []string{"sso_notice.intro"},
		action: "sso_notice.action", url: func(d Data) string { return d.SignInURL },
		after: []string{"sso_notice.help", "sso_notice.ignore"},
	},
	KindPasswordChanged: {
		before: []string{"password_changed.intro", "password_changed.warning"},
	},
	KindTeacherBulkNotice: {
		before: []string{"teacher_bulk_notice.intro"},
		action: "teacher_bulk_notice.action", url: func(d Data) string { return d.Link },
		after: []string{"teacher_bulk_notice.why"},
	},
	KindTaskFinished: {
		before: []string{"task_finished.intro", "task_finished.counts"},
		action: "task_finished.action", url: func(d Data) string { return d.Link }, need: true,
		after: []string{"task_finished.why"},
	},
}

// statusIDs are the words for a finished task's status ({status}).
var statusIDs = []string{"status.completed", "status.completed_with_errors", "status.failed", "status.cancelled"}

// commonIDs are the message ids every email uses.
var commonIDs = []string{
	"common.language", "common.greeting", "common.greetingNoName", "common.footer",
	"common.linkFallback", "common.timeLayout",
}

// MessageIDs lists every message id the emails use, sorted: a Wording must
// have them all.
func MessageIDs() []string {
	ids := slices.Concat(commonIDs, statusIDs)
	for kind, l := range layouts {
		ids = append(ids, string(kind)+".subject")
		ids = append(ids, l.before...)
		ids = append(ids, l.after...)
		if l.action != "" {
			ids = append(ids, l.action)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Renderer renders emails in one language.
type Renderer struct {
	wording Wording
}

// NewRenderer returns a Renderer for w, which must have every id of
// MessageIDs.
func NewRenderer(w Wording) (*Renderer, error) {
	var missing []string
	for _, id := range MessageIDs() {
		if _, ok := w[id]; !ok {
			missing = append(missing, id)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("mail: wording lacks %s", strings.Join(missing, ", "))
	}
	return &Renderer{wording: maps.Clone(w)}, nil
}

// action is an email's one link.
type action struct {
	Label    string
	URL      string
	Fallback string
}

// page is what the HTML template shows; every field is plain text that the
// template escapes.
type page struct {
	Language string
	Subject  string
	Greeting string
	Before   []string
	Action   *action
	After    []string
	Footer   string
}

// Render renders email kind for the recipient to with data d. A link email
// without a valid http(s) link is an error; an SSO notice without a valid
// sign-in address simply has no button.
func (r *Renderer) Render(kind Kind, to string, d Data) (Message, error) {
	l, ok := layouts[kind]
	if !ok {
		return Message{}, fmt.Errorf("mail: unknown email kind %q", kind)
	}
	if to == "" {
		return Message{}, errors.New("mail: no recipient")
	}
	fill := r.filler(d)
	p := page{
		Language: r.wording["common.language"],
		Subject:  oneLine(fill(string(kind) + ".subject")),
		Greeting: fill("common.greeting"),
		Footer:   fill("common.footer"),
	}
	if strings.TrimSpace(d.Name) == "" {
		p.Greeting = fill("common.greetingNoName")
	}
	for _, id := range l.before {
		p.Before = append(p.Before, fill(id))
	}
	for _, id := range l.after {
		p.After = append(p.After, fill(id))
	}
	if l.action != "" {
		link := l.url(d)
		switch {
		case webAddress(link):
			p.Action = &action{Label: fill(l.action), URL: link, Fallback: fill("common.linkFallback")}
		case l.need:
			return Message{}, fmt.Errorf("mail: %s email needs an http(s) link", kind)
		}
	}

	var html bytes.Buffer
	if err := htmlPage.Execute(&html, p); err != nil {
		return Message{}, fmt.Errorf("mail: render %s: %w", kind, err)
	}
	return Message{To: to, Subject: p.Subject, Text: plainText(p), HTML: html.String()}, nil
}

// filler returns a function that looks up a message id and fills in its
// placeholders from d. Values are inserted once, as they are: a name that
// looks like a placeholder stays as it is.
func (r *Renderer) filler(d Data) func(id string) string {
	when := ""
	if !d.ChangedAt.IsZero() {
		when = d.ChangedAt.UTC().Format(r.wording["common.timeLayout"])
	}
	replacer := strings.NewReplacer(
		"{name}", oneLine(d.Name),
		"{username}", oneLine(d.Username),
		"{link}", d.Link,
		"{minutes}", strconv.Itoa(minutes(d.ExpiresIn)),
		"{school}", oneLine(d.School),
		"{signInURL}", d.SignInURL,
		"{time}", when,
		"{actor}", oneLine(d.Actor),
		"{count}", strconv.Itoa(d.Count),
		"{task}", oneLine(d.Task.Name),
		"{status}", r.wording["status."+d.Task.Status],
		"{total}", strconv.Itoa(d.Task.Total),
		"{succeeded}", strconv.Itoa(d.Task.Succeeded),
		"{noEmail}", strconv.Itoa(d.Task.NoEmail),
		"{failed}", strconv.Itoa(d.Task.Failed),
		"{skipped}", strconv.Itoa(d.Task.Skip),
	)
	return func(id string) string { return replacer.Replace(r.wording[id]) }
}

// minutes rounds d up to whole minutes, at least one.
func minutes(d time.Duration) int {
	return max(1, int((d+time.Minute-1)/time.Minute))
}

// oneLine removes control characters (line breaks included) from user data
// and subjects.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
}

// webAddress reports whether s is an absolute http or https URL with a host.
func webAddress(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != "" && u.User == nil
}

// plainText is the text/plain body of p.
func plainText(p page) string {
	var b strings.Builder
	b.WriteString(p.Greeting + "\n\n")
	for _, para := range p.Before {
		b.WriteString(para + "\n\n")
	}
	if p.Action != nil {
		b.WriteString(p.Action.Label + ":\n" + p.Action.URL + "\n\n")
	}
	for _, para := range p.After {
		b.WriteString(para + "\n\n")
	}
	b.WriteString("-- \n" + p.Footer + "\n")
	return b.String()
}

// htmlPage is the HTML body: simple markup, no styles, no scripts, no
// images; html/template escapes every value.
var htmlPage = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html lang="{{.Language}}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Subject}}</title>
</head>
<body>
<p>{{.Greeting}}</p>
{{range .Before}}<p>{{.}}</p>
{{end}}{{with .Action}}<p><a href="{{.URL}}">{{.Label}}</a></p>
<p>{{.Fallback}}<br>{{.URL}}</p>
{{end}}{{range .After}}<p>{{.}}</p>
{{end}}<hr>
<p><small>{{.Footer}}</small></p>
</body>
</html>
`))
