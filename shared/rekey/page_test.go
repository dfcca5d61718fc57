package rekey

import (
	"errors"
	"testing"
)

func TestPagingLimit(t *testing.T) {
	p := Paging{Default: 25, Max: 100}
	for _, test := range []struct {
		limit, want int
		invalid     bool
	}{
		{limit: 0, want: 25},
		{limit: 1, want: 1},
		{limit: 100, want: 100},
		{limit: 101, invalid: true},
		{limit: -1, invalid: true},
		{limit: 1 << 40, invalid: true},
	} {
		got, err := p.Limit(test.limit)
		if test.invalid {
			var e *Error
			if !errors.As(err, &e) || e.Code != ECodeInvalidInput || e.Field != "limit" || e.Message != "Limit must be between 1 and 100." {
				t.Errorf("Limit(%d) = %d, %v; want invalid_input on limit", test.limit, got, err)
			}
			continue
		}
		if err != nil || got != test.want {
			t.Errorf("Limit(%d) = %d, %v; want %d", test.limit, got, err, test.want)
		}
	}
}

func TestPagingClamp(t *testing.T) {
	p := Paging{Default: 50, Max: 200}
	for _, test := range []struct{ limit, want int }{{-1, 50}, {0, 50}, {1, 1}, {200, 200}, {201, 200}, {10000, 200}} {
		if got := p.Clamp(test.limit); got != test.want {
			t.Errorf("Clamp(%d) = %d, want %d", test.limit, got, test.want)
		}
	}
}

// TestListingPaging pins each listing's numbers: the API contract promises
// users limit ≤ 200, and the task centre pages by 25, at most 100.
func TestListingPaging(t *testing.T) {
	for _, test := range []struct {
		name      string
		got, want Paging
	}{
		{"users", UserPaging, Paging{50, 200}},
		{"audit", AuditPaging, Paging{50, 200}},
		{"schedules", SchedulePaging, Paging{50, 200}},
		{"due schedules", DueSchedulePaging, Paging{100, 200}},
		{"tasks", TaskPaging, Paging{25, 100}},
		{"task results", TaskResultPaging, Paging{100, 500}},
	} {
		if test.got != test.want {
			t.Errorf("%s paging = %+v, want %+v", test.name, test.got, test.want)
		}
	}
}
