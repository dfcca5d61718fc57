package mail

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func englishRenderer(t *testing.T) *Renderer {
	t.Helper()
	r, err := NewRenderer(English)
	if err != nil {
		t.Fatalf("NewRenderer(English): %v", err)
	}
	return r
}

func TestEnglishHasEveryString(t *testing.T) {
	englishRenderer(t)
	used := map[string]bool{}
	for _, id := range MessageIDs() {
		used[id] = true
	}
	for id := range English {
		if !used[id] {
			t.Errorf("English[%q] is not used by any email", id)
		}
	}
	partial := Wording{"common.greeting": "Hi"}
	if _, err := NewRenderer(partial); err == nil {
		t.Error("NewRenderer(partial wording) succeeded, want an error naming the missing ids")
	}
}

func TestRender(t *testing.T) {
	const link = "https://rekey.example.org/reset-password?token=abc_DEF-123"
	for _, test := range []struct {
		kind     Kind
		data     Data
		subject  string
		contains []string // in both the text and the HTML
		lacks    []string
	}{
		{KindResetLink, Data{Name: "Jo", Username: "jo.quill", Link: link, ExpiresIn: 15 * time.Minute},
			"Choose a new password",
			[]string{"Hello Jo,", "jo.quill", "15 minutes", "An administrator"}, nil},
		{KindForgotLink, Data{Username: "jo.quill", Link: link, ExpiresIn: 29*time.Minute + time.Second},
			"Reset your password",
			[]string{"Hello,", "30 minutes", "ignore this email"}, []string{"administrator"}},
		{KindSSONotice, Data{Name: "Jo", Username: "jo.quill", School: "Oakridge Academy", SignInURL: "https://sso.oakridge.example/login"},
			"How to sign in to your school account",
			[]string{"Oakridge Academy", "https://sso.oakridge.example/login", "single sign-on"}, []string{"token"}},
		{KindSSONotice, Data{Name: "Jo", Username: "jo.quill", School: "Oakridge Academy", SignInURL: "javascript:alert(1)"},
			"How to sign in to your school account",
			[]string{"Oakridge Academy", "IT staff"}, []string{"javascript", "Go to your school sign-in"}},
		{KindPasswordChanged, Data{Name: "Jo", Username: "jo.quill", ChangedAt: time.Date(2026, 9, 1, 8, 5, 0, 0, time.FixedZone("X", 3600))},
			"Your password was changed",
			[]string{"1 September 2026 at 07:05 UTC", "contact your school or district administrator"}, []string{"http"}},
		{KindTeacherBulkNotice, Data{Name: "Pat", Actor: "Noah Larsen", Count: 25, School: "Northfield Elementary", Link: "https://rekey.example.org/#/tasks/task1"},
			"A teacher reset 25 students' passwords at Northfield Elementary",
			[]string{"Hello Pat,", "Noah Larsen started a bulk password reset of 25 students at Northfield Elementary.", "https://rekey.example.org/#/tasks/task1", "cancel it"}, []string{"token"}},
		{KindTaskFinished, Data{Name: "Dana", Link: "https://rekey.example.org/#/tasks/task1",
			Task: TaskCounts{Name: "Nightly · Email reset links · all schools · students", Status: "completed_with_errors", Total: 40, Succeeded: 35, NoEmail: 3, Failed: 1, Skip: 1}},
			"Your bulk task finished: Nightly · Email reset links · all schools · students",
			[]string{"Hello Dana,", "has finished with errors.", "Of 40 users: 35 reset, 3 without an email address (tell them another way), 1 failed, 1 skipped.",
				"https://rekey.example.org/#/tasks/task1", "Open the task"}, []string{"token", "{"}},
	} {
		t.Run(string(test.kind), func(t *testing.T) {
			m, err := englishRenderer(t).Render(test.kind, "jo@example.org", test.data)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if m.To != "jo@example.org" || m.Subject != test.subject {
				t.Errorf("Render to %q subject %q, want jo@example.org, %q", m.To, m.Subject, test.subject)
			}
			for _, want := range test.contains {
				if !strings.Contains(m.Text, want) {
					t.Errorf("text lacks %q:\n%s", want, m.Text)
				}
				if !strings.Contains(m.HTML, want) {
					t.Errorf("HTML lacks %q:\n%s", want, m.HTML)
				}
			}
			for _, unwanted := range test.lacks {
				if strings.Contains(m.Text, unwanted) || strings.Contains(m.HTML, unwanted) {
					t.Errorf("email contains %q:\n%s\n%s", unwanted, m.Text, m.HTML)
				}
			}
			if test.data.Link != "" {
				if !strings.Contains(m.Text, test.data.Link) || !strings.Contains(m.HTML, `href="`+test.data.Link+`"`) {
					t.Errorf("email lacks the link as text and as href:\n%s\n%s", m.Text, m.HTML)
				}
			}
			if strings.Contains(m.HTML, "style") || strings.Contains(m.HTML, "<script") {
				t.Errorf("HTML has styles or scripts:\n%s", m.HTML)
			}
		})
	}
}

// TestRenderEscapesUserData: names are shown as text, never as markup
// (SECURITY.md 29), and cannot break the subject into headers.
func TestRenderEscapesUserData(t *testing.T) {
	const evil = `<img src=x onerror=alert(1)>`
	m, err := englishRenderer(t).Render(KindPasswordChanged, "jo@example.org", Data{Name: evil, Username: "x\r\nBcc: victim@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(m.HTML, "<img") || !strings.Contains(m.HTML, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("HTML does not escape the name:\n%s", m.HTML)
	}
	if !strings.Contains(m.Text, evil) {
		t.Errorf("text should show the name as written:\n%s", m.Text)
	}
	if strings.ContainsAny(m.Subject, "\r\n") || strings.Contains(m.Text, "\r\nBcc") {
		t.Errorf("control characters survived: subject %q, text %q", m.Subject, m.Text)
	}
	// A value that looks like a placeholder is not filled in again.
	m, err = englishRenderer(t).Render(KindPasswordChanged, "jo@example.org", Data{Name: "{time}", Username: "jo"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, "Hello {time},") {
		t.Errorf("a name that looks like a placeholder was replaced:\n%s", m.Text)
	}
}

func TestRenderRefuses(t *testing.T) {
	r := englishRenderer(t)
	for _, test := range []struct {
		name string
		kind Kind
		to   string
		data Data
	}{
		{"unknown kind", "password_in_clear", "jo@example.org", Data{}},
		{"no recipient", KindPasswordChanged, "", Data{}},
		{"link email without a link", KindResetLink, "jo@example.org", Data{}},
		{"link email with a script link", KindForgotLink, "jo@example.org", Data{Link: "javascript:alert(1)"}},
		{"link relative to the host", KindResetLink, "jo@example.org", Data{Link: "/reset-password?token=x"}},
	} {
		if _, err := r.Render(test.kind, test.to, test.data); err == nil {
			t.Errorf("Render(%s) succeeded, want an error", test.name)
		}
	}
}

func TestMessageLogValueHidesBodies(t *testing.T) {
	var buf strings.Builder
	m := Message{To: "jo@example.org", Subject: "Reset your password", Text: "token=abc", HTML: "<p>token=abc</p>"}
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("sent", "email", m)
	if strings.Contains(buf.String(), "token=abc") || strings.Contains(buf.String(), "jo@example.org") || !strings.Contains(buf.String(), "Reset your password") {
		t.Errorf("log line = %s, want the subject only", buf.String())
	}
}
