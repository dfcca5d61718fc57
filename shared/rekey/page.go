package rekey

import "fmt"

// Paging is the page-size rule of one listing: a request that names no
// limit gets Default items, and none may ask for more than Max, so one
// request cannot read an unbounded page. The services check a requested
// limit with Limit; the stores bound what they read with Clamp, so the two
// cannot disagree about a listing's numbers.
type Paging struct {
	Default, Max int
}

// The paging of each listing. The API contract promises users limit ≤ 200.
var (
	UserPaging        = Paging{Default: 50, Max: 200}
	AuditPaging       = Paging{Default: 50, Max: 200}
	SchedulePaging    = Paging{Default: 50, Max: 200}
	DueSchedulePaging = Paging{Default: 100, Max: 200}
	TaskPaging        = Paging{Default: 25, Max: 100}
	TaskResultPaging  = Paging{Default: 100, Max: 500}
)

// Limit returns the page size a request for limit items gets: Default for
// 0 (no limit asked), limit itself within 1..Max. Anything else is an
// invalid_input error on field "limit".
func (p Paging) Limit(limit int) (int, error) {
	switch {
	case limit == 0:
		return p.Default, nil
	case limit < 1 || limit > p.Max:
		return 0, FieldError(ECodeInvalidInput, "limit", fmt.Sprintf("Limit must be between 1 and %d.", p.Max))
	}
	return limit, nil
}

// Clamp returns the page size a store reads for limit: Default when limit
// is not positive, at most Max. Stores use it rather than Limit because
// they are not where a request is refused; it only keeps a caller that
// skipped Limit from reading an unbounded page.
func (p Paging) Clamp(limit int) int {
	if limit <= 0 {
		return p.Default
	}
	return min(limit, p.Max)
}
