package schedule

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/schedule/cron"
)

// wantFieldError checks that err is a 422 (invalid_input) on field whose
// message mentions want.
func wantFieldError(t *testing.T, call string, err error, field, want string) {
	t.Helper()
	var re *rekey.Error
	if !errors.As(err, &re) || re.Code != rekey.ECodeInvalidInput || re.Field != field {
		t.Errorf("%s error = %v, want invalid_input on field %s", call, err, field)
		return
	}
	if !strings.Contains(re.Message, want) {
		t.Errorf("%s message = %q, want it to mention %q", call, re.Message, want)
	}
}

// TestParseExpression: cron's errors about an expression become 422s on the
// expression field, with cron's message.
func TestParseExpression(t *testing.T) {
	for _, test := range []struct {
		expr, wantInMessage string
	}{
		{"", "Give a schedule expression"},
		{"every day", "cron("},
		{"cron(0 7 1 9 * *)", "must be ?"},
		{"cron(60 7 1 9 ? *)", "out of range for minutes"},
		{"rate(5 minute)", "plural"},
	} {
		_, err := parseExpression(test.expr)
		_, cronErr := cron.Parse(test.expr)
		if cronErr == nil {
			t.Fatalf("cron.Parse(%q) error = nil, want one", test.expr)
		}
		wantFieldError(t, "parseExpression("+test.expr+")", err, "expression", test.wantInMessage)
		if rekey.ErrorMessage(err) != cronErr.Error() {
			t.Errorf("parseExpression(%q) message = %q, want cron's %q", test.expr, rekey.ErrorMessage(err), cronErr)
		}
	}
	expr, err := parseExpression(" cron(0  7 1 9 ? *) ")
	if err != nil || expr.String() != "cron(0 7 1 9 ? *)" {
		t.Errorf("parseExpression(valid) = %q, %v, want cron(0 7 1 9 ? *)", expr, err)
	}
}

// TestLoadLocation: cron's errors about a zone become 422s on the timezone
// field.
func TestLoadLocation(t *testing.T) {
	for _, name := range []string{"", "Local", "Mars/Olympus_Mons", "Europe/London\n"} {
		_, err := loadLocation(name)
		wantFieldError(t, "loadLocation("+name+")", err, "timezone", "Europe/London")
	}
	if loc, err := loadLocation("America/New_York"); err != nil || loc.String() != "America/New_York" {
		t.Errorf("loadLocation(America/New_York) = %v, %v", loc, err)
	}
}

// TestCheckFrequency: new schedules run at most once an hour; the rule is
// said in the message, on the expression field.
func TestCheckFrequency(t *testing.T) {
	for _, test := range []struct {
		expr string
		ok   bool
	}{
		{"rate(1 minute)", false},
		{"rate(59 minutes)", false},
		{"rate(60 minutes)", true},
		{"rate(90 minutes)", true},
		{"rate(1 hour)", true},
		{"rate(7 days)", true},
		{"cron(* * * * ? *)", false},
		{"cron(0/15 * * * ? *)", false},
		{"cron(0,30 7 * * ? *)", false},
		{"cron(0,59 7 1 9 ? *)", false},
		{"cron(58-59 23 31 12 ? *)", false},
		{"cron(0 * * * ? *)", true},
		{"cron(30 7-9 * * ? *)", true},
		{"cron(0 7 1 9 ? *)", true},
		{"cron(59 0/1 ? * MON-FRI *)", true},
	} {
		expr, err := cron.Parse(test.expr)
		if err != nil {
			t.Fatalf("cron.Parse(%s): %v", test.expr, err)
		}
		err = checkFrequency(expr)
		if test.ok {
			if err != nil {
				t.Errorf("checkFrequency(%s) = %v, want accepted", test.expr, err)
			}
			continue
		}
		wantFieldError(t, "checkFrequency("+test.expr+")", err, "expression", "at most once an hour")
		// The refused expressions do run twice within an hour: walked
		// from the first run, two consecutive runs are less than an hour
		// apart.
		first := expr.Next(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.UTC)
		if second := expr.Next(first, time.UTC); second.IsZero() || second.Sub(first) >= MinInterval {
			t.Errorf("%s: runs at %v then %v, yet refused", test.expr, first, second)
		}
	}
}
