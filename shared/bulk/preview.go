package bulk

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/rekey"
)

// Preview is what a bulk reset would do, computed without writing
// anything (POST /api/bulk-resets with dryRun): how many users it would
// reset, by school and by role, how many of them have no email address,
// which of them sign in through their school's single sign-on, and who the
// selection names but the reset would leave out, and why.
type Preview struct {
	Total    int                `json:"total"`
	BySchool []SchoolCount      `json:"bySchool"`
	ByRole   map[rekey.Role]int `json:"byRole"`
	NoEmail  int                `json:"noEmail"`
	SSO      SSOPreview         `json:"sso"`
	// Excluded lists at most MaxPreviewExclusions of the users left out;
	// ExcludedTotal counts them all.
	Excluded      []Exclusion `json:"excluded"`
	ExcludedTotal int         `json:"excludedTotal"`
	// ApprovalThreshold is the district's (0 = off); NeedsApproval says
	// that the reset would wait for a second person's approval.
	ApprovalThreshold int  `json:"approvalThreshold"`
	NeedsApproval     bool `json:"needsApproval"`
}

// SchoolCount is how many users of one school a reset reaches; users of no
// school (district staff) have an empty SchoolID.
type SchoolCount struct {
	SchoolID string `json:"schoolId"`
	Name     string `json:"name"`
	Count    int    `json:"count"`
}

// SSOPreview counts the users at schools that sign in with their own
// single sign-on (rekey.School.SSO): their Rekey password is not what they
// use at school, so the task leaves it unchanged (worker_sso.go). They are
// counted in Total (each gets a result, skipped with the reason) but not in
// NoEmail. Notice names the email an email-link task sends them instead of
// a reset link, the forgot-password flow's "use your school sign-in" with
// the school's SignInURL; it is "" for default and generated password
// tasks, which send them nothing.
type SSOPreview struct {
	Total   int         `json:"total"`
	Notice  string      `json:"notice"`
	Schools []SSOSchool `json:"schools"`
}

// SSOSchool is one SSO school of a preview and how many of its users the
// reset reaches.
type SSOSchool struct {
	SchoolID  string `json:"schoolId"`
	Name      string `json:"name"`
	SignInURL string `json:"signInUrl,omitempty"`
	Count     int    `json:"count"`
}

// Exclusion is one user a selection names or covers whom the reset leaves
// out.
type Exclusion struct {
	UserID string          `json:"userId"`
	Reason ExclusionReason `json:"reason"`
}

// ExclusionReason says why a user is left out of a bulk reset.
type ExclusionReason string

// Why users are left out.
const (
	// ExcludedSelf: the caller is never part of their own bulk reset.
	ExcludedSelf ExclusionReason = "self"
	// ExcludedDisabled: a disabled account is not reset (the task reports
	// it as skipped).
	ExcludedDisabled ExclusionReason = "disabled"
	// ExcludedNotAllowed: the caller may not reset this user (their role,
	// or a place outside the caller's scope).
	ExcludedNotAllowed ExclusionReason = "not_allowed"
	// ExcludedNotFound: a selected id names no user.
	ExcludedNotFound ExclusionReason = "not_found"
)

// MaxPreviewExclusions bounds the exclusions a preview lists.
const MaxPreviewExclusions = 200

// ssoNoticeKind names the email SSO users get instead of a reset link.
const ssoNoticeKind = "sso_notice"

// ApprovalThresholds tells the bulk service how many users a district's
// bulk reset may reach before a second person must approve it (0: never).
// The district settings store answers it; without one, approvals are off.
type ApprovalThresholds interface {
	ApprovalThreshold(ctx context.Context, districtID string) (int, error)
}

// Preview validates a bulk reset exactly as Start does and tells what it
// would do, writing nothing.
//
// Reads: the selection is read through the same index pages the planner
// uses (users of a district, or of a school, in pages of the planner's
// page size: on DynamoDB, Queries of GSI1 or GSI2, never a Scan, except
// for support staff's cross-district selections, which the planner scans
// too); selected users are read by id (BatchGetItem, 100 a request);
// schools are read once per district.
func (s *Service) Preview(ctx context.Context, initiator rekey.User, sel rekey.Selection, del rekey.Delivery) (Preview, error) {
	scope, sel, _, err := s.validate(ctx, initiator, sel, del)
	if err != nil {
		return Preview{}, err
	}
	threshold, err := s.approvalThreshold(ctx, initiator)
	if err != nil {
		return Preview{}, err
	}
	p := Preview{ByRole: map[rekey.Role]int{}, BySchool: []SchoolCount{}, Excluded: []Exclusion{},
		SSO: SSOPreview{Schools: []SSOSchool{}}, ApprovalThreshold: threshold}
	if del.Mode == rekey.DeliverEmailLink {
		p.SSO.Notice = ssoNoticeKind
	}
	bySchool, noEmailBySchool := map[string]int{}, map[string]int{}
	err = s.eachSelected(ctx, initiator, scope, sel, func(u rekey.User, why ExclusionReason) bool {
		if why != "" {
			p.ExcludedTotal++
			if len(p.Excluded) < MaxPreviewExclusions {
				p.Excluded = append(p.Excluded, Exclusion{UserID: u.ID, Reason: why})
			}
			return true
		}
		p.Total++
		p.ByRole[u.Role]++
		bySchool[u.SchoolID]++
		if u.Email == "" {
			p.NoEmail++
			noEmailBySchool[u.SchoolID]++
		}
		return true
	})
	if err != nil {
		return Preview{}, err
	}
	if err := s.nameSchools(ctx, initiator, bySchool, noEmailBySchool, &p); err != nil {
		return Preview{}, err
	}
	p.NeedsApproval = threshold > 0 && p.Total > threshold
	return p, nil
}

// nameSchools fills p.BySchool and p.SSO from the counts by school id,
// largest first, reading the schools of the initiator's district once; the
// users without email of SSO schools (noEmail, by school id) leave
// p.NoEmail, as the worker skips them for SSO instead.
func (s *Service) nameSchools(ctx context.Context, initiator rekey.User, bySchool, noEmail map[string]int, p *Preview) error {
	schools := map[string]rekey.School{}
	if initiator.DistrictID != "" {
		list, err := s.store.ListSchools(ctx, initiator.DistrictID)
		if err != nil {
			return fmt.Errorf("bulk: preview: list schools: %w", err)
		}
		for _, sc := range list {
			schools[sc.ID] = sc
		}
	}
	for id, n := range bySchool {
		sc, ok := schools[id]
		if !ok && id != "" {
			// Another district's school (support's selections).
			got, err := s.store.GetSchool(ctx, id)
			if err != nil && rekey.ErrorCode(err) != rekey.ECodeNotFound {
				return fmt.Errorf("bulk: preview: read school: %w", err)
			}
			sc = got
		}
		p.BySchool = append(p.BySchool, SchoolCount{SchoolID: id, Name: sc.Name, Count: n})
		if sc.SSO {
			p.SSO.Total += n
			p.NoEmail -= noEmail[id]
			p.SSO.Schools = append(p.SSO.Schools, SSOSchool{SchoolID: id, Name: sc.Name, SignInURL: sc.SSOURL, Count: n})
		}
	}
	largestFirst := func(a, b SchoolCount) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Name, b.Name)) }
	slices.SortFunc(p.BySchool, largestFirst)
	slices.SortFunc(p.SSO.Schools, func(a, b SSOSchool) int {
		return largestFirst(SchoolCount{Name: a.Name, Count: a.Count}, SchoolCount{Name: b.Name, Count: b.Count})
	})
	return nil
}

// reachCount counts the users sel reaches for initiator, stopping as soon
// as it passes limit (so that checking a threshold reads no more of a
// large district than the threshold needs).
func (s *Service) reachCount(ctx context.Context, initiator rekey.User, scope authz.Scope, sel rekey.Selection, limit int) (int, error) {
	if sel.Mode == rekey.SelectFollowUp && sel.FollowUp != nil {
		// The parent's counters (FollowUp's count): users the worker will
		// refuse are counted too, which errs towards asking for approval.
		return sel.FollowUp.Count, nil
	}
	n := 0
	err := s.eachSelected(ctx, initiator, scope, sel, func(_ rekey.User, why ExclusionReason) bool {
		if why == "" {
			n++
		}
		return n <= limit
	})
	return n, err
}

// eachSelected calls fn with every user sel names or covers inside
// initiator's scope, and why the reset would leave them out ("" when it
// would not), until fn returns false. Selected ids are read by id; the
// filters are read page by page through the planner's own selection
// (selectionFilter), so that a preview counts what a task would plan.
func (s *Service) eachSelected(ctx context.Context, initiator rekey.User, scope authz.Scope, sel rekey.Selection, fn func(rekey.User, ExclusionReason) bool) error {
	if sel.Mode == rekey.SelectSelected {
		for start := 0; start < len(sel.UserIDs); start += userBatch {
			ids := sel.UserIDs[start:min(start+userBatch, len(sel.UserIDs))]
			users, err := s.store.GetUsers(ctx, ids)
			if err != nil {
				return fmt.Errorf("bulk: read selected users: %w", err)
			}
			for _, id := range ids {
				u, ok := users[id]
				why := exclusion(initiator, scope, u)
				if !ok {
					u, why = rekey.User{ID: id}, ExcludedNotFound
				}
				if !fn(u, why) {
					return nil
				}
			}
		}
		return nil
	}
	filter, ok := selectionFilter(sel, scope)
	if !ok {
		return nil
	}
	excepted := map[string]bool{}
	if sel.Mode == rekey.SelectAllExcept {
		for _, id := range sel.UserIDs {
			excepted[id] = true
		}
	}
	cursor := ""
	for {
		users, next, err := s.store.SelectUsers(ctx, filter, cursor, planPageSize)
		if err != nil {
			return fmt.Errorf("bulk: read selection: %w", err)
		}
		for _, u := range users {
			if excepted[u.ID] || !scope.Contains(u) {
				continue
			}
			if !fn(u, exclusion(initiator, scope, u)) {
				return nil
			}
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

// userBatch is how many selected users one read asks for (DynamoDB's
// BatchGetItem limit).
const userBatch = 100

// exclusion says why initiator's bulk reset would leave u out, or "".
func exclusion(initiator rekey.User, scope authz.Scope, u rekey.User) ExclusionReason {
	switch {
	case u.ID == initiator.ID:
		return ExcludedSelf
	case !scope.Contains(u) || !resettable(initiator, u):
		return ExcludedNotAllowed
	case u.Status == rekey.StatusDisabled:
		return ExcludedDisabled
	default:
		return ""
	}
}

// approvalThreshold is the initiator's district's approval threshold (0
// when approvals are off or no settings are wired).
func (s *Service) approvalThreshold(ctx context.Context, initiator rekey.User) (int, error) {
	if s.approvals == nil || initiator.DistrictID == "" {
		return 0, nil
	}
	n, err := s.approvals.ApprovalThreshold(ctx, initiator.DistrictID)
	if err != nil {
		return 0, fmt.Errorf("bulk: read approval threshold: %w", err)
	}
	return max(n, 0), nil
}
