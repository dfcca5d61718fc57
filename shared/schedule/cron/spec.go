package cron

import (
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Year range of EventBridge cron expressions.
const (
	minYear = 1970
	maxYear = 2199
)

// bitset is a set of small non-negative integers (up to 255).
type bitset [4]uint64

func (b *bitset) add(i int)     { b[i/64] |= 1 << (i % 64) }
func (b bitset) has(i int) bool { return i >= 0 && i < 256 && b[i/64]&(1<<(i%64)) != 0 }

// members returns b's members in increasing order.
func (b bitset) members() []int {
	var ms []int
	for i, w := range b {
		for w != 0 {
			bit := bits.TrailingZeros64(w)
			ms = append(ms, i*64+bit)
			w &^= 1 << bit
		}
	}
	return ms
}

// cronSpec is a parsed cron(...) expression. Exactly one of dom and dow is
// in use (the other field was "?").
type cronSpec struct {
	minutes, hours, months bitset
	years                  bitset // members are year - minYear
	useDOW                 bool
	dom                    domSpec
	dow                    dowSpec
}

// domSpec is a day-of-month field: plain days plus EventBridge's L (last
// day), LW (last weekday) and nW (the weekday nearest day n).
type domSpec struct {
	days           bitset
	last           bool
	lastWeekday    bool
	nearestWeekday []int
}

// dowSpec is a day-of-week field, days numbered 1 (SUN) to 7 (SAT): plain
// days plus nL (the last day n of the month) and n#k (the k-th day n of the
// month).
type dowSpec struct {
	days   bitset
	lastOf []int
	nth    []nthWeekday
}

type nthWeekday struct{ day, k int }

// field describes one of the six fields: its name in messages, its range,
// its names (index 0 = the value min), the special characters it takes
// beyond "," and "-", and what is subtracted from a value to make its
// member of a bitset.
type field struct {
	name       string
	min, max   int
	names      []string
	star, step bool
	offset     int
}

var (
	minutesField = field{name: "minutes", min: 0, max: 59, star: true, step: true}
	hoursField   = field{name: "hours", min: 0, max: 23, star: true, step: true}
	domField     = field{name: "day-of-month", min: 1, max: 31, star: true, step: true}
	monthField   = field{name: "month", min: 1, max: 12, star: true, step: true,
		names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}}
	dowField = field{name: "day-of-week", min: 1, max: 7, star: true,
		names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}}
	yearField = field{name: "year", min: minYear, max: maxYear, star: true, step: true, offset: minYear}
)

// parseCron parses the inside of cron(...).
func parseCron(body string) (*cronSpec, error) {
	parts := strings.Fields(body)
	if len(parts) != 6 {
		return nil, expressionError("cron() takes six fields: minutes hours day-of-month month day-of-week year (got %d).", len(parts))
	}
	minutes, hours, dom, month, dow, year := parts[0], parts[1], parts[2], parts[3], parts[4], parts[5]
	switch {
	case dom == "?" && dow == "?":
		return nil, expressionError("Only one of day-of-month and day-of-week may be ?; give the other a value.")
	case dom != "?" && dow != "?":
		return nil, expressionError("One of day-of-month and day-of-week must be ? (EventBridge cannot combine them).")
	}
	spec := &cronSpec{useDOW: dom == "?"}
	var err error
	if spec.minutes, err = minutesField.parseList(minutes, nil); err != nil {
		return nil, err
	}
	if spec.hours, err = hoursField.parseList(hours, nil); err != nil {
		return nil, err
	}
	if spec.months, err = monthField.parseList(month, nil); err != nil {
		return nil, err
	}
	if spec.years, err = yearField.parseList(year, nil); err != nil {
		return nil, err
	}
	if spec.useDOW {
		err = spec.dow.parse(dow)
	} else {
		err = spec.dom.parse(dom)
	}
	if err != nil {
		return nil, err
	}
	return spec, nil
}

// parseList parses a comma-separated list of plain items (values, ranges,
// steps, *) into a set. special, when set, handles an item first and
// reports whether it did.
func (f field) parseList(s string, special func(item string) (bool, error)) (bitset, error) {
	var set bitset
	if s == "" {
		return set, expressionError("The %s field is empty.", f.name)
	}
	if s == "?" {
		return set, expressionError("? is allowed only in day-of-month or day-of-week, not in %s.", f.name)
	}
	for item := range strings.SplitSeq(s, ",") {
		if special != nil {
			handled, err := special(item)
			if err != nil {
				return set, err
			}
			if handled {
				continue
			}
		}
		if err := f.parseItem(item, &set); err != nil {
			return set, err
		}
	}
	return set, nil
}

// parseItem adds one item of a list: *, v, a-b, */s, v/s or a-b/s.
func (f field) parseItem(item string, set *bitset) error {
	if item == "" {
		return expressionError("The %s field has an empty item in its list.", f.name)
	}
	rangePart, stepPart, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		if !f.step {
			return expressionError("The %s field does not take / steps.", f.name)
		}
		n, err := strconv.Atoi(stepPart)
		if err != nil || n < 1 || strings.TrimLeft(stepPart, "0123456789") != "" {
			return expressionError("The step after / in %s must be a positive whole number.", f.name)
		}
		step = n
	}
	lo, hi := f.min, f.max
	switch {
	case rangePart == "*":
		if !f.star {
			return expressionError("The %s field does not take *.", f.name)
		}
	case strings.Contains(rangePart, "-"):
		a, b, _ := strings.Cut(rangePart, "-")
		var err error
		if lo, err = f.value(a); err != nil {
			return err
		}
		if hi, err = f.value(b); err != nil {
			return err
		}
		if lo > hi {
			return expressionError("The range %s in %s runs backwards; list it as two ranges instead.", rangePart, f.name)
		}
	default:
		v, err := f.value(rangePart)
		if err != nil {
			return err
		}
		// "v/s" starts at v and steps to the end of the range; "v" is v.
		lo = v
		if !hasStep {
			hi = v
		}
	}
	if hasStep && step > f.max-f.min {
		return expressionError("The step /%d in %s is larger than the field's range %d-%d.", step, f.name, f.min, f.max)
	}
	for v := lo; v <= hi; v += step {
		set.add(v - f.offset)
	}
	return nil
}

// value parses one number or name of the field.
func (f field) value(s string) (int, error) {
	for i, name := range f.names {
		if strings.EqualFold(s, name) {
			return f.min + i, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || strings.TrimLeft(s, "0123456789") != "" || s == "" {
		if len(f.names) > 0 {
			return 0, expressionError("%q is not a valid %s: use %d-%d or %s-%s.", s, f.name, f.min, f.max, f.names[0], f.names[len(f.names)-1])
		}
		return 0, expressionError("%q is not a valid %s: use a number %d-%d.", s, f.name, f.min, f.max)
	}
	if n < f.min || n > f.max {
		return 0, expressionError("%d is out of range for %s (%d-%d).", n, f.name, f.min, f.max)
	}
	return n, nil
}

// parse parses a day-of-month field other than "?".
func (d *domSpec) parse(s string) error {
	var err error
	d.days, err = domField.parseList(s, func(item string) (bool, error) {
		switch {
		case item == "L":
			d.last = true
			return true, nil
		case item == "LW":
			d.lastWeekday = true
			return true, nil
		case strings.HasPrefix(item, "L"):
			return false, expressionError("In day-of-month, L stands alone or as LW (offsets such as L-3 are not supported).")
		case strings.HasSuffix(item, "W"):
			day, err := domField.value(strings.TrimSuffix(item, "W"))
			if err != nil {
				return false, expressionError("W follows a single day of the month, as in 15W (the weekday nearest the 15th).")
			}
			d.nearestWeekday = append(d.nearestWeekday, day)
			return true, nil
		}
		return false, nil
	})
	return err
}

// parse parses a day-of-week field other than "?".
func (d *dowSpec) parse(s string) error {
	saturday := false
	days, err := dowField.parseList(s, func(item string) (bool, error) {
		switch {
		case item == "L":
			// Alone, L is the last day of the week: Saturday.
			saturday = true
			return true, nil
		case strings.Contains(item, "#"):
			a, b, _ := strings.Cut(item, "#")
			day, err := dowField.value(a)
			if err != nil {
				return false, err
			}
			k, err := strconv.Atoi(b)
			if err != nil || k < 1 || k > 5 || len(b) != 1 {
				return false, expressionError("In %s, the number after # must be 1-5 (as in 2#1, the first Monday).", item)
			}
			d.nth = append(d.nth, nthWeekday{day: day, k: k})
			return true, nil
		case len(item) > 1 && strings.HasSuffix(item, "L"):
			day, err := dowField.value(strings.TrimSuffix(item, "L"))
			if err != nil {
				return false, expressionError("L follows a single day of the week, as in 6L (the last Friday of the month).")
			}
			d.lastOf = append(d.lastOf, day)
			return true, nil
		}
		return false, nil
	})
	if saturday {
		days.add(7)
	}
	d.days = days
	return err
}

// daysIn is the number of days of month m of year y.
func daysIn(y int, m time.Month) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// weekdayOf is the EventBridge day-of-week number (1 = SUN … 7 = SAT).
func weekdayOf(y int, m time.Month, d int) int {
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Weekday()) + 1
}

// isWeekday reports whether EventBridge day number wd is Monday to Friday.
func isWeekday(wd int) bool { return wd >= 2 && wd <= 6 }

// matches reports whether the date y-m-d is one of the spec's days.
func (c *cronSpec) matchesDay(y int, m time.Month, d int) bool {
	if c.useDOW {
		return c.dow.matches(y, m, d)
	}
	return c.dom.matches(y, m, d)
}

func (s *domSpec) matches(y int, m time.Month, d int) bool {
	last := daysIn(y, m)
	if s.days.has(d) || s.last && d == last {
		return true
	}
	if s.lastWeekday && d == lastWeekdayOf(y, m) {
		return true
	}
	for _, n := range s.nearestWeekday {
		if n <= last && d == nearestWeekday(y, m, n) {
			return true
		}
	}
	return false
}

// lastWeekdayOf is the last Monday-to-Friday day of the month.
func lastWeekdayOf(y int, m time.Month) int {
	d := daysIn(y, m)
	for !isWeekday(weekdayOf(y, m, d)) {
		d--
	}
	return d
}

// nearestWeekday is the Monday-to-Friday day of the month nearest day n,
// never leaving the month: Saturday the 1st gives Monday the 3rd, Sunday
// the last gives the Friday before.
func nearestWeekday(y int, m time.Month, n int) int {
	last := daysIn(y, m)
	switch weekdayOf(y, m, n) {
	case 7: // Saturday
		if n == 1 {
			return 3
		}
		return n - 1
	case 1: // Sunday
		if n == last {
			return n - 2
		}
		return n + 1
	default:
		return n
	}
}

func (s *dowSpec) matches(y int, m time.Month, d int) bool {
	wd := weekdayOf(y, m, d)
	if s.days.has(wd) {
		return true
	}
	for _, day := range s.lastOf {
		if wd == day && d+7 > daysIn(y, m) {
			return true
		}
	}
	for _, n := range s.nth {
		if wd == n.day && (d-1)/7+1 == n.k {
			return true
		}
	}
	return false
}

// minGap is Expression.MinGap of a cron expression: the shortest step
// between the minutes of its minutes field, counting the step from the last
// minute round to the first minute of the next hour.
func (c *cronSpec) minGap() time.Duration {
	ms := c.minutes.members()
	if len(ms) == 0 {
		return 0
	}
	gap := 60 - ms[len(ms)-1] + ms[0] // a single minute: an hour
	for i := 1; i < len(ms); i++ {
		gap = min(gap, ms[i]-ms[i-1])
	}
	return time.Duration(gap) * time.Minute
}

// next is the first occurrence strictly after after, walking the wall
// clock of loc from the wall time of after, field by field.
func (c *cronSpec) next(after time.Time, loc *time.Location) time.Time {
	wall := after.In(loc)
	y0, m0, d0 := wall.Date()
	h0, min0 := wall.Hour(), wall.Minute()
	for y := max(y0, minYear); y <= maxYear; y++ {
		if !c.years.has(y - minYear) {
			continue
		}
		firstYear := y == y0
		for m := time.January; m <= time.December; m++ {
			if firstYear && m < m0 || !c.months.has(int(m)) {
				continue
			}
			firstMonth := firstYear && m == m0
			for d := 1; d <= daysIn(y, m); d++ {
				if firstMonth && d < d0 || !c.matchesDay(y, m, d) {
					continue
				}
				firstDay := firstMonth && d == d0
				for h := range 24 {
					if firstDay && h < h0 || !c.hours.has(h) {
						continue
					}
					firstHour := firstDay && h == h0
					for mi := range 60 {
						if firstHour && mi < min0 || !c.minutes.has(mi) {
							continue
						}
						if t := resolveWall(y, m, d, h, mi, loc); t.After(after) {
							return t
						}
					}
				}
			}
		}
	}
	return time.Time{}
}

// resolveWall returns the instant at which loc's wall clock reads
// y-m-d h:mi. When that wall time happens twice (a fall-back overlap), it is
// the first; when it never happens (a spring-forward gap), it is the first
// instant after the gap, the moment of the change.
func resolveWall(y int, m time.Month, d, h, mi int, loc *time.Location) time.Time {
	wall := time.Date(y, m, d, h, mi, 0, 0, time.UTC)
	// Every zone offset is within ±26 hours, so the instant lies in the
	// zones in effect between wall-26h and wall+26h (read as UTC).
	const reach = 26 * time.Hour
	var first time.Time
	t := wall.Add(-reach).In(loc)
	for {
		start, end := t.ZoneBounds()
		_, offset := t.Zone()
		candidate := wall.Add(-time.Duration(offset) * time.Second)
		inZone := !candidate.Before(start) && (end.IsZero() || candidate.Before(end))
		if inZone && (first.IsZero() || candidate.Before(first)) {
			first = candidate
		}
		if end.IsZero() || end.After(wall.Add(reach)) {
			break
		}
		// A gap: the clock jumps at end from end+offset to end+nextOffset,
		// skipping the wall times in between.
		_, nextOffset := end.In(loc).Zone()
		gapStart := end.Add(time.Duration(offset) * time.Second)
		gapEnd := end.Add(time.Duration(nextOffset) * time.Second)
		if first.IsZero() && !wall.Before(gapStart.UTC()) && wall.Before(gapEnd.UTC()) {
			first = end
		}
		t = end.In(loc)
	}
	return first.In(loc)
}
