package cron

import (
	"strings"
	"testing"
	"time"
)

// utc parses an RFC 3339 instant.
func utc(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatalf("time.Parse(%q): %v", s, err)
	}
	return v
}

// parseAnchored parses a test's expression and anchors it at the RFC 3339
// instant anchor, when there is one.
func parseAnchored(t *testing.T, expr, anchor string) Expression {
	t.Helper()
	e, err := Parse(expr)
	if err != nil {
		t.Fatalf("Parse(%q) error: %v", expr, err)
	}
	if anchor != "" {
		e = e.Anchored(utc(t, anchor))
	}
	return e
}

func TestNext(t *testing.T) {
	for _, test := range []struct {
		name, expr, zone string
		anchor           string // RFC 3339, for rates
		after, want      string // RFC 3339 instants; want "" = never
	}{
		// The product's example: every 1 September 07:00 Europe/London (BST, UTC+1).
		{"1 September 07:00 London", "cron(0 7 1 9 ? *)", "Europe/London", "", "2026-03-01T00:00:00Z", "2026-09-01T06:00:00Z"},
		{"1 September, just before", "cron(0 7 1 9 ? *)", "Europe/London", "", "2026-09-01T05:59:59Z", "2026-09-01T06:00:00Z"},
		{"1 September, at the occurrence", "cron(0 7 1 9 ? *)", "Europe/London", "", "2026-09-01T06:00:00Z", "2027-09-01T06:00:00Z"},
		{"month by name", "cron(0 7 1 SEP ? *)", "Europe/London", "", "2026-09-02T00:00:00Z", "2027-09-01T06:00:00Z"},
		{"UTC every 15 minutes", "cron(0/15 * * * ? *)", "UTC", "", "2026-01-01T10:07:00Z", "2026-01-01T10:15:00Z"},
		{"stepped range", "cron(5-20/5 9 * * ? *)", "UTC", "", "2026-01-01T09:15:00Z", "2026-01-01T09:20:00Z"},
		{"stepped range wraps to next day", "cron(5-20/5 9 * * ? *)", "UTC", "", "2026-01-01T09:20:00Z", "2026-01-02T09:05:00Z"},
		{"list of hours", "cron(0 8,12,17 * * ? *)", "UTC", "", "2026-01-01T12:00:00Z", "2026-01-01T17:00:00Z"},
		{"weekdays by name", "cron(0 9 ? * MON-FRI *)", "UTC", "", "2026-05-29T09:00:00Z", "2026-06-01T09:00:00Z"}, // Fri -> Mon
		{"weekdays by number", "cron(0 9 ? * 2-6 *)", "UTC", "", "2026-05-29T09:00:00Z", "2026-06-01T09:00:00Z"},   // 2 = MON
		{"1 is Sunday", "cron(0 9 ? * 1 *)", "UTC", "", "2026-05-29T09:00:00Z", "2026-05-31T09:00:00Z"},            // 31 May 2026 is a Sunday
		{"every day of week", "cron(0 9 ? * * *)", "UTC", "", "2026-05-29T09:00:00Z", "2026-05-30T09:00:00Z"},
		{"seconds of after are past the minute", "cron(* * * * ? *)", "UTC", "", "2026-01-01T10:00:30Z", "2026-01-01T10:01:00Z"},
		{"year list", "cron(0 0 1 1 ? 2027,2030)", "UTC", "", "2027-01-01T00:00:00Z", "2030-01-01T00:00:00Z"},
		{"year range ended", "cron(0 0 1 1 ? 2020-2025)", "UTC", "", "2026-01-01T00:00:00Z", ""},
		{"never (30 February)", "cron(0 0 30 2 ? *)", "UTC", "", "2026-01-01T00:00:00Z", ""},

		// L, W and #.
		{"L: last day, leap February", "cron(0 0 L * ? *)", "UTC", "", "2028-02-10T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"L: last day, common February", "cron(0 0 L * ? *)", "UTC", "", "2026-02-10T00:00:00Z", "2026-02-28T00:00:00Z"},
		{"LW: last weekday (31 May 2026 is a Sunday)", "cron(0 9 LW * ? *)", "UTC", "", "2026-05-01T00:00:00Z", "2026-05-29T09:00:00Z"},
		{"1W on a Saturday moves to Monday the 3rd", "cron(0 9 1W * ? *)", "UTC", "", "2026-07-31T00:00:00Z", "2026-08-03T09:00:00Z"},
		{"15W on a Sunday moves to Monday", "cron(0 9 15W * ? *)", "UTC", "", "2026-11-01T00:00:00Z", "2026-11-16T09:00:00Z"},
		{"15W on a Saturday moves to Friday", "cron(0 9 15W * ? *)", "UTC", "", "2026-08-01T00:00:00Z", "2026-08-14T09:00:00Z"},
		{"31W skips months without a 31st", "cron(0 9 31W * ? *)", "UTC", "", "2026-04-01T00:00:00Z", "2026-05-29T09:00:00Z"}, // 31 May is a Sunday
		{"2#1: first Monday of September", "cron(0 9 ? 9 2#1 *)", "UTC", "", "2026-08-01T00:00:00Z", "2026-09-07T09:00:00Z"},
		{"MON#1 by name", "cron(0 9 ? 9 MON#1 *)", "UTC", "", "2026-08-01T00:00:00Z", "2026-09-07T09:00:00Z"},
		{"6#5: fifth Friday, skipping months without one", "cron(0 9 ? * 6#5 *)", "UTC", "", "2026-02-01T00:00:00Z", "2026-05-29T09:00:00Z"},
		{"6L: last Friday", "cron(0 9 ? * 6L *)", "UTC", "", "2026-10-01T00:00:00Z", "2026-10-30T09:00:00Z"},
		{"L alone in day-of-week is Saturday", "cron(0 9 ? * L *)", "UTC", "", "2026-05-25T00:00:00Z", "2026-05-30T09:00:00Z"},
		{"leap day only", "cron(0 0 29 2 ? *)", "UTC", "", "2025-01-01T00:00:00Z", "2028-02-29T00:00:00Z"},

		// Spring forward: New York skips 02:00-03:00 on 8 March 2026.
		{"gap: 02:30 runs at 03:00 EDT", "cron(30 2 * * ? *)", "America/New_York", "", "2026-03-08T05:00:00Z", "2026-03-08T07:00:00Z"},
		{"gap: the day after is normal", "cron(30 2 * * ? *)", "America/New_York", "", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"},
		{"gap: several skipped times run once", "cron(0,30 2 * * ? *)", "America/New_York", "", "2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"},
		{"gap: a skipped time and 03:00 run once", "cron(30 2,3 * * ? *)", "America/New_York", "", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"},
		// London skips 01:00-02:00 on 29 March 2026.
		{"gap London: 01:30 runs at 02:00 BST", "cron(30 1 * * ? *)", "Europe/London", "", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
		// Lord Howe moves by half an hour, 02:00 -> 02:30, on 4 October 2026.
		{"half-hour gap", "cron(15 2 * * ? *)", "Australia/Lord_Howe", "", "2026-10-03T12:00:00Z", "2026-10-03T15:30:00Z"},

		// Fall back: London repeats 01:00-02:00 on 25 October 2026.
		{"overlap: 01:30 runs at the first 01:30 (BST)", "cron(30 1 * * ? *)", "Europe/London", "", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"},
		{"overlap: not again at the second 01:30 (GMT)", "cron(30 1 * * ? *)", "Europe/London", "", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
		{"overlap: hourly skips the repeated hour", "cron(0 * * * ? *)", "Europe/London", "", "2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z"},
		// New York repeats 01:00-02:00 on 1 November 2026.
		{"overlap New York", "cron(30 1 * * ? *)", "America/New_York", "", "2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z"},
		{"overlap New York, second pass", "cron(30 1 * * ? *)", "America/New_York", "", "2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"},
		{"wall clock kept across DST", "cron(0 7 * * ? *)", "Europe/London", "", "2026-03-28T07:00:00Z", "2026-03-29T06:00:00Z"},

		// Rates count from the anchor (truncated to the minute).
		{"rate from anchor", "rate(5 minutes)", "UTC", "2026-01-01T10:02:30Z", "2026-01-01T10:02:30Z", "2026-01-01T10:07:00Z"},
		{"rate before anchor", "rate(1 hour)", "UTC", "2026-01-01T10:00:00Z", "2025-12-31T00:00:00Z", "2026-01-01T11:00:00Z"},
		{"rate at an occurrence", "rate(1 hour)", "UTC", "2026-01-01T10:00:00Z", "2026-01-01T12:00:00Z", "2026-01-01T13:00:00Z"},
		{"rate long after", "rate(7 days)", "UTC", "2026-01-01T10:00:00Z", "2026-03-01T00:00:00Z", "2026-03-05T10:00:00Z"},
		{"rate ignores DST", "rate(1 day)", "Europe/London", "2026-03-28T07:00:00Z", "2026-03-28T07:00:00Z", "2026-03-29T07:00:00Z"},
		{"rate without anchor counts from the epoch", "rate(1 day)", "UTC", "", "2026-01-01T10:00:00Z", "2026-01-02T00:00:00Z"},
	} {
		t.Run(test.name, func(t *testing.T) {
			e := parseAnchored(t, test.expr, test.anchor)
			loc, err := LoadLocation(test.zone)
			if err != nil {
				t.Fatalf("LoadLocation(%q) error: %v", test.zone, err)
			}
			got := e.Next(utc(t, test.after), loc)
			var want time.Time
			if test.want != "" {
				want = utc(t, test.want)
			}
			if !got.Equal(want) {
				t.Errorf("Parse(%q).Next(%s, %s) = %v, want %v", test.expr, test.after, test.zone, got.UTC(), want)
			}
			if !got.IsZero() && got.Location() != loc {
				t.Errorf("Next(...) location = %v, want %v", got.Location(), loc)
			}
		})
	}
}

// TestNextWalksAYear checks a whole year of a daily schedule in London:
// one run per day, 365 in all, each at 01:30 on the wall clock (or 02:00 on
// the spring-forward day).
func TestNextWalksAYear(t *testing.T) {
	e, err := Parse("cron(30 1 * * ? *)")
	if err != nil {
		t.Fatal(err)
	}
	loc, _ := LoadLocation("Europe/London")
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, loc)
	end := time.Date(2027, 1, 1, 0, 0, 0, 0, loc)
	days := map[string]bool{}
	for n := 0; ; n++ {
		at = e.Next(at, loc)
		if !at.Before(end) {
			if n != 365 {
				t.Errorf("runs in 2026 = %d, want 365", n)
			}
			break
		}
		day := at.Format("2006-01-02")
		if days[day] {
			t.Fatalf("second run on %s at %v", day, at)
		}
		days[day] = true
		if clock := at.Format("15:04"); clock != "01:30" && !(day == "2026-03-29" && clock == "02:00") {
			t.Errorf("run on %s at %s, want 01:30", day, clock)
		}
	}
}

func TestLatestBy(t *testing.T) {
	for _, test := range []struct {
		name, expr, anchor, from, now, want string
	}{
		{"nothing missed", "cron(0 7 * * ? *)", "", "2026-09-01T07:00:00Z", "2026-09-01T07:00:30Z", "2026-09-01T07:00:00Z"},
		{"three days missed", "cron(0 7 * * ? *)", "", "2026-09-01T07:00:00Z", "2026-09-04T08:00:00Z", "2026-09-04T07:00:00Z"},
		{"rate missed", "rate(10 minutes)", "2026-09-01T00:00:00Z", "2026-09-01T00:10:00Z", "2026-09-01T05:55:00Z", "2026-09-01T05:50:00Z"},
		{"rate nothing missed", "rate(10 minutes)", "2026-09-01T00:00:00Z", "2026-09-01T00:10:00Z", "2026-09-01T00:19:00Z", "2026-09-01T00:10:00Z"},
	} {
		t.Run(test.name, func(t *testing.T) {
			e := parseAnchored(t, test.expr, test.anchor)
			got := e.LatestBy(utc(t, test.from), utc(t, test.now), time.UTC)
			if want := utc(t, test.want); !got.Equal(want) {
				t.Errorf("LatestBy(%s, %s) = %v, want %v", test.from, test.now, got, want)
			}
		})
	}
}

func TestParseCanonicalForm(t *testing.T) {
	for in, want := range map[string]string{
		" cron(0  7 1 9 ?   *) ": "cron(0 7 1 9 ? *)",
		"rate(1 day)":            "rate(1 day)",
		"rate(  15  minutes )":   "rate(15 minutes)",
	} {
		e, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q) error: %v", in, err)
		}
		if got := e.String(); got != want {
			t.Errorf("Parse(%q).String() = %q, want %q", in, got, want)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	for _, test := range []struct {
		expr, wantInMessage string
	}{
		{"", "Give a schedule expression"},
		{"every day", "cron("},
		{"at(2026-09-01T07:00:00)", "cron("},
		{"CRON(0 7 1 9 ? *)", "cron("},
		{"cron(0 7 1 9 ? *", "cron("},
		{"cron(0 7 1 9 *)", "six fields"},
		{"cron(0 7 1 9 ? * *)", "six fields"},
		{"cron(0 7 1 9 1 *)", "must be ?"},
		{"cron(0 7 * * * *)", "must be ?"},
		{"cron(0 7 ? 9 ? *)", "Only one"},
		{"cron(60 7 1 9 ? *)", "out of range for minutes"},
		{"cron(0 24 * * ? *)", "out of range for hours"},
		{"cron(0 7 32 * ? *)", "out of range for day-of-month"},
		{"cron(0 7 0 * ? *)", "out of range for day-of-month"},
		{"cron(0 7 1 13 ? *)", "out of range for month"},
		{"cron(0 7 1 SEPT ? *)", "not a valid month"},
		{"cron(0 7 ? * 0 *)", "out of range for day-of-week"},
		{"cron(0 7 ? * 8 *)", "out of range for day-of-week"},
		{"cron(0 7 ? * MON/2 *)", "does not take / steps"},
		{"cron(0 7 ? * 2#6 *)", "must be 1-5"},
		{"cron(0 7 ? * 9#1 *)", "out of range"},
		{"cron(0 7 L-3 * ? *)", "L-3"},
		{"cron(0 7 1-5W * ? *)", "W follows a single day"},
		{"cron(0 7 ? * 2-3L *)", "L follows a single day"},
		{"cron(0 7 1 9 ? 1969)", "out of range for year"},
		{"cron(0 7 1 9 ? 2200)", "out of range for year"},
		{"cron(0 7 1 9 ? 2030-2026)", "runs backwards"},
		{"cron(0 22-2 * * ? *)", "runs backwards"},
		{"cron(*/0 * * * ? *)", "positive whole number"},
		{"cron(*/60 * * * ? *)", "larger than"},
		{"cron(? 7 1 9 ? *)", "? is allowed only"},
		{"cron(0,,5 7 1 9 ? *)", "empty item"},
		{"cron(-5 7 1 9 ? *)", "not a valid minutes"},
		{"cron(0 7 1 9 ? *)\x00", "control characters"},
		{"rate(0 minutes)", "positive whole number"},
		{"rate(-1 day)", "positive whole number"},
		{"rate(1.5 hours)", "positive whole number"},
		{"rate(1 minutes)", "singular"},
		{"rate(5 minute)", "plural"},
		{"rate(2 weeks)", "minute(s), hour(s) or day(s)"},
		{"rate(5)", "value and a unit"},
		{"rate(4000 days)", "at most 3650 days"},
		{"rate(99999999999999999999 minutes)", "positive whole number"},
		{"cron(" + strings.Repeat("0,", 200) + "0 7 1 9 ? *)", "at most 256"},
	} {
		t.Run(test.expr, func(t *testing.T) {
			_, err := Parse(test.expr)
			if err == nil {
				t.Fatalf("Parse(%q) error = nil, want one mentioning %q", test.expr, test.wantInMessage)
			}
			if !strings.Contains(err.Error(), test.wantInMessage) {
				t.Errorf("Parse(%q) error = %q, want it to mention %q", test.expr, err, test.wantInMessage)
			}
		})
	}
}

func TestLoadLocation(t *testing.T) {
	for _, test := range []struct {
		name string
		ok   bool
	}{
		{"Europe/London", true}, {"America/New_York", true}, {"UTC", true}, {"Pacific/Chatham", true},
		{"", false}, {"Local", false}, {"Mars/Olympus_Mons", false}, {"Europe/London\n", false},
		{"../../etc/passwd", false}, {strings.Repeat("A", 65), false},
	} {
		loc, err := LoadLocation(test.name)
		if test.ok != (err == nil) {
			t.Errorf("LoadLocation(%q) error = %v, want ok %v", test.name, err, test.ok)
			continue
		}
		if test.ok && loc.String() != test.name {
			t.Errorf("LoadLocation(%q) = %v", test.name, loc)
		}
		if !test.ok && !strings.Contains(err.Error(), "Europe/London") {
			t.Errorf("LoadLocation(%q) error = %q, want it to name an example zone", test.name, err)
		}
	}
}

// TestMinGap: MinGap is exact for rates and an hour for a cron expression
// with one minute, and never more than the smallest gap between
// consecutive runs, walked over two days from the first run.
func TestMinGap(t *testing.T) {
	for _, test := range []struct {
		expr string
		want time.Duration
	}{
		{"rate(1 minute)", time.Minute},
		{"rate(59 minutes)", 59 * time.Minute},
		{"rate(60 minutes)", time.Hour},
		{"rate(90 minutes)", 90 * time.Minute},
		{"rate(1 hour)", time.Hour},
		{"rate(7 days)", 7 * 24 * time.Hour},
		{"cron(* * * * ? *)", time.Minute},
		{"cron(0/15 * * * ? *)", 15 * time.Minute},
		{"cron(0,30 7 * * ? *)", 30 * time.Minute},
		{"cron(0,59 7 1 9 ? *)", time.Minute},
		{"cron(10,20,50 * * * ? *)", 10 * time.Minute},
		{"cron(58-59 23 31 12 ? *)", time.Minute},
		{"cron(0 * * * ? *)", time.Hour},
		{"cron(30 7-9 * * ? *)", time.Hour},
		{"cron(0 7 1 9 ? *)", time.Hour},
		{"cron(59 0/1 ? * MON-FRI *)", time.Hour},
	} {
		expr, err := Parse(test.expr)
		if err != nil {
			t.Fatalf("Parse(%s): %v", test.expr, err)
		}
		if got := expr.MinGap(); got != test.want {
			t.Errorf("Parse(%s).MinGap() = %v, want %v", test.expr, got, test.want)
		}
		first := expr.Next(utc(t, "2026-01-01T00:00:00Z"), time.UTC)
		if gap, ok := smallestGap(expr, first.Add(-time.Minute), 48*time.Hour); ok && gap < expr.MinGap() {
			t.Errorf("%s: smallest gap over two days = %v, below MinGap %v", test.expr, gap, expr.MinGap())
		}
	}
	if got := (Expression{}).MinGap(); got != 0 {
		t.Errorf("Expression{}.MinGap() = %v, want 0", got)
	}
}

// smallestGap walks the occurrences of e in [from, from+horizon] (UTC) and
// returns the smallest gap between two of them; ok is false when there were
// fewer than two.
func smallestGap(e Expression, from time.Time, horizon time.Duration) (gap time.Duration, ok bool) {
	prev := e.Next(from, time.UTC)
	for !prev.IsZero() && prev.Before(from.Add(horizon)) {
		next := e.Next(prev, time.UTC)
		if next.IsZero() || next.After(from.Add(horizon)) {
			break
		}
		if !ok || next.Sub(prev) < gap {
			gap, ok = next.Sub(prev), true
		}
		prev = next
	}
	return gap, ok
}
