package schedule

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/schedule/cron"
)

// Field limits. maxSelectedUsers keeps a schedule item and its audit entry
// well inside DynamoDB's 400 KB item limit; larger selections are better
// made with a school, role or grade.
const (
	maxNameLen       = 100 // code points
	maxGradeLen      = 16
	maxSelectedUsers = 5000
)

// Input is a new schedule, as POST /api/schedules receives it. The JSON
// names are the API's and the field names of error answers.
type Input struct {
	Name       string          `json:"name"`
	Expression string          `json:"expression"`
	Timezone   string          `json:"timezone"`
	Selection  rekey.Selection `json:"selection"`
	Delivery   rekey.Delivery  `json:"delivery"`
	// Enabled is true when left out: a new schedule runs unless paused.
	Enabled *bool `json:"enabled"`
}

// Patch is an edit of a schedule, as PATCH /api/schedules/{id} receives it:
// every field is optional (nil leaves it unchanged) except Version, the
// version the caller read. Selection and Delivery are replaced whole.
// Enabled false pauses the schedule; true resumes it from the next
// occurrence after now (occurrences missed while paused never run).
type Patch struct {
	Name       *string          `json:"name"`
	Expression *string          `json:"expression"`
	Timezone   *string          `json:"timezone"`
	Selection  *rekey.Selection `json:"selection"`
	Delivery   *rekey.Delivery  `json:"delivery"`
	Enabled    *bool            `json:"enabled"`
	Version    *int             `json:"version"`
}

// invalid is a 422 answer about one field.
func invalid(field, format string, args ...any) *rekey.Error {
	return rekey.FieldError(rekey.ECodeInvalidInput, field, fmt.Sprintf(format, args...))
}

// checkName returns the trimmed name: 1 to 100 code points, no control
// characters.
func checkName(name string) (string, error) {
	name = strings.TrimSpace(name)
	switch {
	case rekey.HasControl(name):
		return "", invalid("name", "The name must not contain control characters.")
	case name == "":
		return "", invalid("name", "Give the schedule a name.")
	case utf8.RuneCountInString(name) > maxNameLen:
		return "", invalid("name", "The name must be at most %d characters.", maxNameLen)
	}
	return name, nil
}

// MinInterval is the shortest time a new or edited schedule may leave
// between two runs. Every run resets a whole selection's passwords; a
// schedule that fires every few minutes would keep those users locked out
// and flood their mailboxes, and is almost always a typo.
const MinInterval = time.Hour

// timing is a checked expression and time zone.
type timing struct {
	expr cron.Expression
	loc  *time.Location
}

// checkTiming parses the expression (anchored at the schedule's creation)
// and the time zone, and refuses an expression that runs more often than
// once an hour (MinInterval) or would never run again after now.
func checkTiming(expression, timezone string, createdAt, now time.Time) (timing, error) {
	expr, err := parseExpression(expression)
	if err != nil {
		return timing{}, err
	}
	if err := checkFrequency(expr); err != nil {
		return timing{}, err
	}
	loc, err := loadLocation(timezone)
	if err != nil {
		return timing{}, err
	}
	expr = expr.Anchored(createdAt)
	if expr.Next(now, loc).IsZero() {
		return timing{}, invalid("expression", "This expression never runs after now; check its dates and year.")
	}
	return timing{expr: expr, loc: loc}, nil
}

// parseExpression is cron.Parse answering a bad expression with a 422 on
// the expression field, its message cron's sentence.
func parseExpression(expression string) (cron.Expression, error) {
	expr, err := cron.Parse(expression)
	if err != nil {
		return cron.Expression{}, invalid("expression", "%s", err)
	}
	return expr, nil
}

// loadLocation is cron.LoadLocation answering a bad zone with a 422 on the
// timezone field, its message cron's sentence.
func loadLocation(name string) (*time.Location, error) {
	loc, err := cron.LoadLocation(name)
	if err != nil {
		return nil, invalid("timezone", "%s", err)
	}
	return loc, nil
}

// checkFrequency refuses an expression that can run twice within
// MinInterval, judged by its cron.Expression.MinGap: a rate is at least an
// hour, a cron expression names a single minute. The answer is the same
// however far ahead one looks, so no occurrences need walking. (A
// spring-forward night may still move one wall time next to another, as it
// does for any zone with daylight saving.) Stored schedules are not
// re-checked: the dispatcher runs what was saved before this rule.
func checkFrequency(expr cron.Expression) error {
	if expr.MinGap() < MinInterval {
		return invalid("expression", "A schedule runs at most once an hour: use rate(1 hour) or longer, or cron() with one minute, such as cron(0 7 * * ? *) or cron(30 * * * ? *).")
	}
	return nil
}

// checkSelection checks the shape of a selection and returns it normalised
// (grade trimmed, user ids deduplicated, never nil). Whether the school
// exists is checked by the service.
func checkSelection(sel rekey.Selection) (rekey.Selection, error) {
	if !sel.Mode.Valid() {
		return sel, invalid("selection.mode", "Choose who the reset reaches: all, all_except, without_role or selected.")
	}
	takesIDs := sel.Mode == rekey.SelectSelected || sel.Mode == rekey.SelectAllExcept
	switch {
	case !takesIDs && len(sel.UserIDs) > 0:
		return sel, invalid("selection.userIds", "Only the selected and all_except modes take userIds.")
	case sel.Mode == rekey.SelectSelected && len(sel.UserIDs) == 0:
		return sel, invalid("selection.userIds", "Select at least one user.")
	case len(sel.UserIDs) > maxSelectedUsers:
		return sel, invalid("selection.userIds", "A schedule can name at most %d users; narrow it by school, role or grade instead.", maxSelectedUsers)
	}
	ids := make([]string, 0, len(sel.UserIDs))
	seen := make(map[string]bool, len(sel.UserIDs))
	for _, id := range sel.UserIDs {
		if !rekey.ValidID(id) {
			return sel, invalid("selection.userIds", "Every user id must be a valid id.")
		}
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	sel.UserIDs = ids
	if sel.SchoolID != "" && !rekey.ValidID(sel.SchoolID) {
		return sel, invalid("selection.schoolId", "Not a valid id.")
	}
	switch {
	case sel.Role != "" && !sel.Role.Valid():
		return sel, invalid("selection.role", "Unknown role.")
	case sel.Mode == rekey.SelectWithoutRole && sel.Role != "" && sel.Role != rekey.RoleStudent:
		return sel, invalid("selection.role", "Users without a role are students; leave role out or set it to student.")
	}
	sel.Grade = strings.TrimSpace(sel.Grade)
	switch {
	case rekey.HasControl(sel.Grade):
		return sel, invalid("selection.grade", "The grade must not contain control characters.")
	case utf8.RuneCountInString(sel.Grade) > maxGradeLen:
		return sel, invalid("selection.grade", "The grade must be at most %d characters.", maxGradeLen)
	}
	return sel, nil
}

// checkDelivery refuses anything but email_link and generated_passwords.
// default_password is refused because a saved schedule must not hold a
// password (see the package documentation).
func checkDelivery(del rekey.Delivery) (rekey.Delivery, error) {
	switch {
	case del.Mode == rekey.DeliverDefaultPassword:
		return del, invalid("delivery.mode", "A schedule cannot use default_password: a saved schedule must not hold a password. Use email_link or generated_passwords.")
	case !del.Mode.Valid():
		return del, invalid("delivery.mode", "Choose how users get their new credentials: email_link or generated_passwords.")
	case del.DefaultPassword != "":
		return del, invalid("delivery.defaultPassword", "A schedule never stores a password; leave defaultPassword out.")
	}
	return rekey.Delivery{Mode: del.Mode}, nil
}
