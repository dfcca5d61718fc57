// Package cron reads EventBridge schedule expressions, rate(N unit) and
// cron(Minutes Hours Day-of-month Month Day-of-week Year), and finds their
// occurrences on the wall clock of an IANA time zone.
//
// Parse reads rate(N minute|minutes|hour|hours|day|days) and cron() with
// EventBridge's rules, including L, W and # (see Parse and Expression.Next).
// Cron expressions follow the wall clock of the time zone across
// daylight-saving changes: a skipped time runs at the end of the gap, a
// repeated time runs at its first instant, each once. Rates are fixed
// intervals counted from an anchor (Expression.Anchored).
//
// The package knows nothing of schedules, stores or the API. Its errors are
// plain errors whose messages are sentences for the person who wrote the
// expression or the zone name; a caller such as the schedule service shows
// them as they are, on the field they came from.
package cron

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	// Embedded IANA time zone data, so that the dispatcher Lambda (whose
	// provided.al2023 image has no /usr/share/zoneinfo) can load any zone.
	_ "time/tzdata"
)

// maxExpressionLen is EventBridge's limit on a schedule expression.
const maxExpressionLen = 256

// maxRate is the longest interval a rate() expression may have.
const maxRate = 3650 * 24 * time.Hour

// Expression is a parsed EventBridge schedule expression: rate(N unit) or
// cron(Minutes Hours Day-of-month Month Day-of-week Year). The zero
// Expression never fires.
type Expression struct {
	text   string
	every  time.Duration // rate(); 0 for cron()
	anchor time.Time     // rate(): occurrences are anchor + k*every, k ≥ 1
	cron   *cronSpec
}

// Parse parses an EventBridge schedule expression. Every error is about the
// expression, and its message says what is wrong in a sentence fit to show
// the person who wrote it.
func Parse(expr string) (Expression, error) {
	expr = strings.TrimSpace(expr)
	switch {
	case expr == "":
		return Expression{}, expressionError("Give a schedule expression, such as cron(0 7 1 9 ? *) or rate(1 day).")
	case len(expr) > maxExpressionLen:
		return Expression{}, expressionError("The expression must be at most %d characters.", maxExpressionLen)
	case strings.ContainsFunc(expr, func(r rune) bool { return unicode.IsControl(r) && r != '\t' }):
		return Expression{}, expressionError("The expression must not contain control characters.")
	}
	if body, ok := cutCall(expr, "rate"); ok {
		return parseRate(body)
	}
	if body, ok := cutCall(expr, "cron"); ok {
		spec, err := parseCron(body)
		if err != nil {
			return Expression{}, err
		}
		return Expression{text: "cron(" + strings.Join(strings.Fields(body), " ") + ")", cron: spec}, nil
	}
	return Expression{}, expressionError("An expression is cron(minutes hours day-of-month month day-of-week year) or rate(value unit).")
}

// cutCall returns what is between "name(" and the closing ")" of expr.
func cutCall(expr, name string) (string, bool) {
	body, ok := strings.CutPrefix(expr, name+"(")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(body, ")")
}

// expressionError is an error about the expression, its message a sentence.
func expressionError(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}

// rateUnits maps the singular unit of rate() to its length.
var rateUnits = map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}

// parseRate parses the inside of rate(...): a positive whole number and a
// unit, singular for 1 and plural otherwise, as EventBridge requires.
func parseRate(body string) (Expression, error) {
	parts := strings.Fields(body)
	if len(parts) != 2 {
		return Expression{}, expressionError("rate() takes a value and a unit, such as rate(5 minutes) or rate(1 day).")
	}
	value, unit := parts[0], parts[1]
	n, err := strconv.Atoi(value)
	if err != nil || n < 1 || strings.TrimLeft(value, "0123456789") != "" {
		return Expression{}, expressionError("The rate value must be a positive whole number.")
	}
	singular := strings.TrimSuffix(unit, "s")
	length, ok := rateUnits[singular]
	if !ok {
		return Expression{}, expressionError("The rate unit must be minute(s), hour(s) or day(s).")
	}
	if n == 1 && unit != singular {
		return Expression{}, expressionError("Write rate(1 %s): the unit is singular for 1.", singular)
	}
	if n > 1 && unit == singular {
		return Expression{}, expressionError("Write rate(%d %ss): the unit is plural for values above 1.", n, singular)
	}
	if n > int(maxRate/length) {
		return Expression{}, expressionError("The rate must be at most %d days.", int(maxRate/(24*time.Hour)))
	}
	return Expression{text: fmt.Sprintf("rate(%d %s)", n, unit), every: time.Duration(n) * length}, nil
}

// MinGap is a lower bound on the time between two consecutive occurrences
// of e, so that a caller can refuse expressions that run too often without
// walking their occurrences. For rate(N unit) it is N units, exactly. A cron
// expression fires at every minute of its minutes field in every hour it
// names, so its bound is the shortest step between those minutes, counting
// the step from the last one round to the first one of the next hour: an
// hour when the field names a single minute (cron(0 7-9 * * ? *) runs at
// 07:00, 08:00, 09:00), 30 minutes for cron(0,30 7 * * ? *), one minute for
// cron(0,59 * * * ? *). The hours and days can only make the real gaps
// longer. The bound holds on a clock without daylight-saving changes: a
// spring-forward night may move a skipped wall time next to another one.
// The zero Expression, which never fires, has MinGap 0.
func (e Expression) MinGap() time.Duration {
	switch {
	case e.every > 0:
		return e.every
	case e.cron != nil:
		return e.cron.minGap()
	default:
		return 0
	}
}

// String returns the expression in its canonical form (single spaces).
func (e Expression) String() string { return e.text }

// IsRate reports whether e is a rate() expression.
func (e Expression) IsRate() bool { return e.every > 0 }

// Anchored returns e with rate occurrences counted from t, truncated to the
// minute: a rate(N unit) expression fires at t + N units, t + 2N units, and
// so on. The schedule service anchors a schedule's rate at its creation
// time, as EventBridge does. Without an anchor, rates count from the Unix
// epoch. Cron expressions ignore the anchor.
func (e Expression) Anchored(t time.Time) Expression {
	e.anchor = t.Truncate(time.Minute)
	return e
}

// Next returns the first occurrence of e strictly after after, or the zero
// time when there is none (a cron year range that has ended, or a date that
// never exists, such as 30 February).
//
// Cron expressions are read on the wall clock of loc (nil means UTC). A
// wall time that a daylight-saving change skips (02:30 on a spring-forward
// night) happens at the first instant after the gap (03:00 in Europe or the
// US), and only once however many skipped wall times the expression names.
// A wall time that happens twice (01:30 on a fall-back night) happens at its
// first instant only.
//
// Rates are fixed intervals from the anchor, whatever the zone: rate(1 day)
// keeps the same UTC time across a DST change. Use cron() to keep the wall
// clock time.
func (e Expression) Next(after time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	switch {
	case e.every > 0:
		return e.nextRate(after).In(loc)
	case e.cron != nil:
		return e.cron.next(after, loc)
	default:
		return time.Time{}
	}
}

// nextRate is the first anchor + k*every (k ≥ 1) after after.
func (e Expression) nextRate(after time.Time) time.Time {
	anchor := e.anchor
	if anchor.IsZero() {
		anchor = time.Unix(0, 0).UTC()
	}
	first := anchor.Add(e.every)
	if after.Before(first) {
		return first
	}
	k := after.Sub(anchor)/e.every + 1
	return anchor.Add(k * e.every)
}

// LatestBy returns the last occurrence in [from, now], where from must be
// an occurrence at or before now, so that a caller that missed several
// occurrences (a dispatcher that was down) can run only the newest of them.
// It gives up walking after maxSteps occurrences and returns the one it
// reached, which is then still at or before now; a later call from it
// carries on.
func (e Expression) LatestBy(from, now time.Time, loc *time.Location) time.Time {
	if e.every > 0 && !e.anchor.IsZero() {
		if latest := e.anchor.Add(now.Sub(e.anchor) / e.every * e.every); latest.After(from) {
			return latest
		}
		return from
	}
	const maxSteps = 200_000
	latest := from
	for range maxSteps {
		next := e.Next(latest, loc)
		if next.IsZero() || next.After(now) {
			return latest
		}
		latest = next
	}
	return latest
}

// maxTimezoneLen bounds time zone names (the longest IANA name is 32).
const maxTimezoneLen = 64

// LoadLocation loads an IANA time zone such as Europe/London (or UTC).
// Every error is about the name, and its message says what to give instead.
// "Local" and the empty name are refused: when an expression is read in a
// zone, the zone must not depend on the machine that reads it.
func LoadLocation(name string) (*time.Location, error) {
	switch {
	case name == "":
		return nil, timezoneError("Give a time zone, such as Europe/London.")
	case len(name) > maxTimezoneLen || strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r >= 0x7f }):
		return nil, timezoneError("Use an IANA time zone name, such as Europe/London.")
	case name == "Local":
		return nil, timezoneError("Name the time zone, such as Europe/London; Local is not allowed.")
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, timezoneError("Unknown time zone; use an IANA name such as Europe/London or America/New_York.")
	}
	return loc, nil
}

// timezoneError is an error about the zone name, its message a sentence.
func timezoneError(message string) error {
	return errors.New(message)
}
