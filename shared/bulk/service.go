package bulk

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
)

// ServiceDeps are the Service's collaborators.
type ServiceDeps struct {
	Store taskStore
	// Plans is the plan queue.
	Plans Queue
	// Keys makes the data keys of password deliveries. When nil, those
	// deliveries are refused.
	Keys Keyring
	// Approvals reads districts' approval thresholds; nil turns approvals
	// off.
	Approvals ApprovalThresholds
	// Notices is the mail queue, for the notice to a school's admins when
	// a teacher resets many students at once; nil sends none.
	Notices Queue
	// Logger may be nil: nothing is logged.
	Logger *slog.Logger
	// Now may be nil: time.Now.
	Now func() time.Time
	// CancelWait must equal the workers' Config.CancelWait (0: the
	// default): a cancel of a running task answers only after it.
	CancelWait time.Duration
}

// Service starts bulk resets and serves the task centre.
type Service struct {
	store     taskStore
	plans     Queue
	keys      Keyring
	approvals ApprovalThresholds
	notices   Queue
	log       *slog.Logger
	now       func() time.Time
	// cancelWait: see ServiceDeps.CancelWait.
	cancelWait time.Duration
}

// NewService returns a Service.
func NewService(deps ServiceDeps) (*Service, error) {
	if deps.Store == nil || deps.Plans == nil {
		return nil, errors.New("bulk: the service needs a Store and a plan queue")
	}
	s := &Service{store: deps.Store, plans: deps.Plans, keys: deps.Keys, approvals: deps.Approvals, notices: deps.Notices, log: deps.Logger, now: deps.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.cancelWait = deps.CancelWait; s.cancelWait <= 0 {
		s.cancelWait = DefaultCancelWait
	}
	return s, nil
}

// maxIdempotencyKeyLength bounds the Idempotency-Key header.
const maxIdempotencyKeyLength = 255

// maxGradeLength bounds selection.grade.
const maxGradeLength = 32

// start validates a bulk reset, records it as a queued task and puts one
// message on the plan queue; it returns at once. A reset that reaches more
// users than the district's approval threshold is recorded awaiting
// approval instead and queues nothing until Approve. The initiator is
// never part of their own reset: their id is dropped from a selected list
// (a list of only themselves is refused) and the planner leaves them out
// of filters. initiator is the actor as
// they are now (a schedule passes its creator, reloaded). The selection is
// always intersected with the initiator's scope when it is planned, and
// every user is authorised again when reached. A run of a schedule that was
// approved when saved (approvedBy) is queued without a second approval.
//
// A default password must pass the creator's district policy for the
// strictest role the selection may reach (the staff minimum as soon as any
// staff can be in it), and each user's own context when reached. It is
// never stored in clear: it is sealed with the task's data key.
//
// With an idempotencyKey, a repeat of the same request by the same
// initiator returns the task the key first started (SECURITY.md 19),
// queuing it again if it never left the queued state; the key with a
// different request is 422 idempotency_key_reused.
//
// Errors: 422 invalid_input naming the field (selection.mode,
// selection.userIds, selection.schoolId, selection.role, selection.grade,
// delivery.mode, delivery.defaultPassword, Idempotency-Key), 422
// weak_password on delivery.defaultPassword, 422 idempotency_key_reused, rekey.ErrForbidden for actors
// who may reset nobody.
func (s *Service) start(ctx context.Context, initiator rekey.User, sel rekey.Selection, del rekey.Delivery, idempotencyKey, requestID string, run scheduledRun) (rekey.Task, error) {
	if err := checkIdempotencyKey(idempotencyKey); err != nil {
		return rekey.Task{}, err
	}
	s = s.withPlaceMemo()
	scope, sel, policy, err := s.validate(ctx, initiator, sel, del)
	if err != nil {
		return rekey.Task{}, err
	}
	status := rekey.TaskQueued
	if run.approvedBy == "" {
		if status, err = s.initialStatus(ctx, initiator, scope, sel); err != nil {
			return rekey.Task{}, err
		}
	}

	now := s.now()
	rec := rekey.TaskRecord{
		Task: rekey.Task{
			ID: rekey.NewID(), Kind: rekey.TaskKindBulkReset, Status: status,
			DistrictID: initiator.DistrictID, Selection: sel, Delivery: rekey.Delivery{Mode: del.Mode},
			CreatedBy: initiator.ID, CreatedAt: now, ScheduleID: run.id, ApprovedBy: run.approvedBy,
			Name: s.nameTask(ctx, sel, del, run.name), ParentTaskID: parentTaskID(ctx),
		},
		CreatorRole:     initiator.Role,
		CreatorSchoolID: initiator.SchoolID,
		Policy:          policy,
		RequestID:       requestID,
	}
	if rec.KidFriendlyMaxGrade, err = s.kidFriendlyGrade(ctx, initiator); err != nil {
		return rekey.Task{}, err
	}
	secrets, err := s.seal(ctx, rec.Task.ID, del, now)
	if err != nil {
		return rekey.Task{}, err
	}
	idem, err := idempotency(initiator.ID, idempotencyKey, sel, del)
	if err != nil {
		return rekey.Task{}, err
	}
	audit := rekey.AuditEntry{
		ID: rekey.NewID(), At: now, DistrictID: initiator.DistrictID, ActorID: initiator.ID, ActorName: initiator.FullName(),
		TargetID: rec.Task.ID, Action: rekey.ActionBulkStart, Outcome: rekey.OutcomeSuccess, RequestID: requestID,
		Detail: fmt.Sprintf("bulk reset started: selection %s, delivery %s", sel.Mode, del.Mode),
	}
	if status == rekey.TaskAwaitingApproval {
		audit.Detail = fmt.Sprintf("bulk reset awaiting approval: selection %s, delivery %s", sel.Mode, del.Mode)
	}
	taskID, created, err := s.store.CreateTask(ctx, rec, secrets, idem, audit)
	if err != nil {
		return rekey.Task{}, fmt.Errorf("bulk: record task: %w", err)
	}
	if !created {
		return s.repeat(ctx, taskID)
	}
	s.noticeTeacherBulk(ctx, initiator, scope, sel, rec.Task.ID, requestID)
	if status == rekey.TaskAwaitingApproval {
		s.log.InfoContext(ctx, "bulk: task awaits approval", "task", rec.Task.ID)
		return taskView(rec, now), nil
	}
	if err := s.plans.Send(ctx, Message{Kind: KindPlan, TaskID: rec.Task.ID, InitiatorID: initiator.ID}); err != nil {
		// The task stays queued; a repeat with the same key queues it again.
		return rekey.Task{}, fmt.Errorf("bulk: queue task %s: %w", rec.Task.ID, err)
	}
	s.log.InfoContext(ctx, "bulk: task started", "task", rec.Task.ID, "selection", string(sel.Mode), "delivery", string(del.Mode))
	return taskView(rec, now), nil
}

// validate checks a bulk reset by initiator (Start's and Preview's
// checks) and returns the initiator's scope, the selection normalised and
// the password policy the task runs under.
func (s *Service) validate(ctx context.Context, initiator rekey.User, sel rekey.Selection, del rekey.Delivery) (authz.Scope, rekey.Selection, rekey.PasswordPolicy, error) {
	scope, ok := authz.ListScope(initiator)
	if !ok {
		return scope, sel, rekey.PasswordPolicy{}, rekey.ErrForbidden
	}
	sel, err := s.checkSelection(ctx, initiator, scope, sel)
	if err != nil {
		return scope, sel, rekey.PasswordPolicy{}, err
	}
	roles := reachableRoles(initiator, sel)
	if len(roles) == 0 {
		if sel.Role != "" {
			return scope, sel, rekey.PasswordPolicy{}, rekey.FieldError(rekey.ECodeInvalidInput, "selection.role", "You may not reset users of this role.")
		}
		return scope, sel, rekey.PasswordPolicy{}, rekey.ErrForbidden
	}
	policy, err := s.checkDelivery(ctx, initiator, sel, roles, del)
	return scope, sel, policy, err
}

// initialStatus is the status a new task starts in: awaiting_approval when
// it reaches more users than the district's approval threshold (counting
// stops as soon as it passes the threshold), else queued.
func (s *Service) initialStatus(ctx context.Context, initiator rekey.User, scope authz.Scope, sel rekey.Selection) (rekey.TaskStatus, error) {
	threshold, err := s.approvalThreshold(ctx, initiator)
	if err != nil || threshold == 0 {
		return rekey.TaskQueued, err
	}
	n, err := s.reachCount(ctx, initiator, scope, sel, threshold)
	if err != nil {
		return "", err
	}
	if n > threshold {
		return rekey.TaskAwaitingApproval, nil
	}
	return rekey.TaskQueued, nil
}

// idempotency returns the claim of idempotencyKey ("" for none) by actor
// for the request sel (normalised) and del.
//
// The request hash is an HMAC-SHA256 of the request's canonical form (the
// decoded selection with its user ids sorted, and the delivery), so that
// the same request sent with other whitespace, field order or user id
// order is the same body. The delivery's default password is part of it
// (another password is another request) but is never stored in clear; the
// hash is keyed with the raw Idempotency-Key, which is stored only as its
// SHA-256, so that a reader of the table cannot test guesses of the
// password against it without also knowing the key.
func idempotency(actorID, idempotencyKey string, sel rekey.Selection, del rekey.Delivery) (rekey.Idempotency, error) {
	if idempotencyKey == "" {
		return rekey.Idempotency{}, nil
	}
	sum := sha256.Sum256([]byte(idempotencyKey))
	// A follow-up's parent and action are the request (Selection.FollowUp
	// has no JSON name of its own); its count is not: it is worked out
	// from the parent's results, which move while a request is retried.
	type followUpRequest struct {
		TaskID string `json:"taskId"`
		Action string `json:"action"`
	}
	canonical := struct {
		Selection rekey.Selection  `json:"selection"`
		Delivery  rekey.Delivery   `json:"delivery"`
		FollowUp  *followUpRequest `json:"followUp,omitempty"`
	}{Selection: sel, Delivery: del}
	canonical.Selection.UserIDs = slices.Sorted(slices.Values(sel.UserIDs))
	if sel.FollowUp != nil {
		canonical.FollowUp = &followUpRequest{TaskID: sel.FollowUp.TaskID, Action: sel.FollowUp.Action}
	}
	body, err := json.Marshal(canonical)
	if err != nil {
		return rekey.Idempotency{}, fmt.Errorf("bulk: encode request for its hash: %w", err)
	}
	mac := hmac.New(sha256.New, []byte(idempotencyKey))
	mac.Write(body)
	return rekey.Idempotency{Key: actorID + "#" + hex.EncodeToString(sum[:]), RequestHash: hex.EncodeToString(mac.Sum(nil))}, nil
}

// repeat answers a repeated Idempotency-Key with the task it started,
// queuing that task again if it never left the queued state (its first
// queuing may have failed; the planner ignores a second message).
func (s *Service) repeat(ctx context.Context, taskID string) (rekey.Task, error) {
	rec, err := s.store.GetTask(ctx, taskID)
	if err != nil {
		return rekey.Task{}, fmt.Errorf("bulk: read task of idempotency key: %w", err)
	}
	if rec.Task.Status == rekey.TaskQueued && rec.StartedAt.IsZero() {
		if err := s.plans.Send(ctx, Message{Kind: KindPlan, TaskID: rec.Task.ID, InitiatorID: rec.Task.CreatedBy}); err != nil {
			return rekey.Task{}, fmt.Errorf("bulk: queue task %s again: %w", rec.Task.ID, err)
		}
	}
	return taskView(rec, s.now()), nil
}

// seal makes the task's secrets, for the password deliveries.
func (s *Service) seal(ctx context.Context, taskID string, del rekey.Delivery, now time.Time) (*rekey.TaskSecrets, error) {
	if del.Mode == rekey.DeliverEmailLink {
		return nil, nil
	}
	if s.keys == nil {
		return nil, errors.New("bulk: no key service configured for password deliveries")
	}
	return NewSecrets(ctx, s.keys, taskID, del, now)
}

// NewSecrets makes the data key of task taskID, which starts at now, and
// seals del's default password with it (for default_password). Start uses
// it; it is exported for tools that create tasks without the Service.
func NewSecrets(ctx context.Context, keys Keyring, taskID string, del rekey.Delivery, now time.Time) (*rekey.TaskSecrets, error) {
	key, sealedKey, err := keys.NewKey(ctx, taskID)
	if err != nil {
		return nil, fmt.Errorf("bulk: make task key: %w", err)
	}
	secrets := &rekey.TaskSecrets{SealedKey: sealedKey, ExpiresAt: now.Add(rekey.PasswordRetention)}
	if del.Mode == rekey.DeliverDefaultPassword {
		secrets.SealedDefaultPassword = key.Seal([]byte(del.DefaultPassword), defaultPasswordBinding(taskID))
	}
	return secrets, nil
}

// defaultPasswordBinding and passwordBinding are what sealed passwords are
// bound to, so that one cannot be moved to another task or user.
func defaultPasswordBinding(taskID string) string { return "default-password/" + taskID }

func passwordBinding(taskID, userID string) string { return "password/" + taskID + "/" + userID }

// checkIdempotencyKey accepts 1 to 255 printable ASCII characters (or none).
func checkIdempotencyKey(key string) error {
	if len(key) > maxIdempotencyKeyLength || strings.IndexFunc(key, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
		return rekey.FieldError(rekey.ECodeInvalidInput, "Idempotency-Key", "The Idempotency-Key must be at most 255 printable ASCII characters.")
	}
	return nil
}

// checkSelection validates sel for initiator and returns it normalised
// (user ids de-duplicated, grade trimmed).
func (s *Service) checkSelection(ctx context.Context, initiator rekey.User, scope authz.Scope, sel rekey.Selection) (rekey.Selection, error) {
	if sel.Mode == rekey.SelectFollowUp && sel.FollowUp != nil && len(sel.UserIDs) == 0 && sel.SchoolID == "" && sel.Role == "" && sel.Grade == "" {
		// Made by FollowUp only: a request cannot carry sel.FollowUp.
		return sel, nil
	}
	if !sel.Mode.Valid() {
		return sel, rekey.FieldError(rekey.ECodeInvalidInput, "selection.mode", "Choose one of all, all_except, without_role or selected.")
	}
	needsIDs := sel.Mode == rekey.SelectSelected || sel.Mode == rekey.SelectAllExcept
	switch {
	case needsIDs && len(sel.UserIDs) == 0:
		return sel, rekey.FieldError(rekey.ECodeInvalidInput, "selection.userIds", "Pick at least one user.")
	case !needsIDs && len(sel.UserIDs) > 0:
		return sel, rekey.FieldError(rekey.ECodeInvalidInput, "selection.userIds", "User ids apply only to the selected and all_except selections.")
	case len(sel.UserIDs) > MaxSelectedUsers:
		return sel, rekey.FieldError(rekey.ECodeInvalidInput, "selection.userIds", fmt.Sprintf("Pick at most %d users; use a filter for more.", MaxSelectedUsers))
	}
	ids := make([]string, 0, len(sel.UserIDs))
	seen := make(map[string]bool, len(sel.UserIDs))
	for _, id := range sel.UserIDs {
		if !rekey.ValidID(id) {
			return sel, rekey.FieldError(rekey.ECodeInvalidInput, "selection.userIds", "The list holds an invalid user id.")
		}
		// The caller is never part of their own bulk reset.
		if !seen[id] && (id != initiator.ID || sel.Mode == rekey.SelectAllExcept) {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	if needsIDs && len(ids) == 0 {
		return sel, rekey.FieldError(rekey.ECodeInvalidInput, "selection.userIds", "You cannot reset your own password in a bulk reset; pick other users, or change your password on your account page.")
	}
	sel.UserIDs = ids

	if sel.Role != "" && !sel.Role.Valid() {
		return sel, rekey.FieldError(rekey.ECodeInvalidInput, "selection.role", "Unknown role.")
	}
	if sel.Mode == rekey.SelectWithoutRole && sel.Role != "" && sel.Role != rekey.RoleStudent {
		return sel, rekey.FieldError(rekey.ECodeInvalidInput, "selection.role", "Users without a role are students; another role contradicts the selection.")
	}
	sel.Grade = strings.TrimSpace(sel.Grade)
	if utf8.RuneCountInString(sel.Grade) > maxGradeLength || !utf8.ValidString(sel.Grade) || strings.IndexFunc(sel.Grade, unicode.IsControl) >= 0 {
		return sel, rekey.FieldError(rekey.ECodeInvalidInput, "selection.grade", "The grade is too long or holds control characters.")
	}
	if sel.SchoolID != "" {
		if err := s.checkSchool(ctx, initiator, scope, sel.SchoolID); err != nil {
			return sel, err
		}
	}
	return sel, nil
}

// checkSchool accepts a school the initiator's scope covers.
func (s *Service) checkSchool(ctx context.Context, initiator rekey.User, scope authz.Scope, schoolID string) error {
	refuse := rekey.FieldError(rekey.ECodeInvalidInput, "selection.schoolId", "Pick a school you manage.")
	if !rekey.ValidID(schoolID) {
		return refuse
	}
	school, err := s.store.GetSchool(ctx, schoolID)
	if rekey.ErrorCode(err) == rekey.ECodeNotFound {
		return refuse
	}
	if err != nil {
		return fmt.Errorf("bulk: read school: %w", err)
	}
	if _, ok := scope.Restrict(rekey.UserFilter{DistrictID: school.DistrictID, SchoolID: school.ID}); !ok {
		return refuse
	}
	if !scope.AllDistricts && school.DistrictID != initiator.DistrictID {
		return refuse
	}
	return nil
}

// reachableRoles lists the roles of users that initiator may reset and that
// sel can reach, judged with the permission matrix itself on a stand-in
// user of each role inside the initiator's scope.
func reachableRoles(initiator rekey.User, sel rekey.Selection) []rekey.Role {
	var roles []rekey.Role
	for _, role := range rekey.Roles {
		if sel.Role != "" && role != sel.Role || sel.Mode == rekey.SelectWithoutRole && role != rekey.RoleStudent {
			continue
		}
		if sel.SchoolID != "" && !role.SchoolScoped() {
			continue
		}
		probe := rekey.User{ID: "probe", Role: role, Status: rekey.StatusActive, DistrictID: initiator.DistrictID}
		if probe.DistrictID == "" {
			probe.DistrictID = "probe-district"
		}
		if role.SchoolScoped() {
			probe.SchoolID = cmpOr(initiator.SchoolID, sel.SchoolID, "probe-school")
		}
		if authz.Allowed(initiator, probe, authz.ActionReset) {
			roles = append(roles, role)
		}
	}
	return roles
}

// cmpOr returns the first non-empty string.
func cmpOr(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// checkDelivery validates del and returns the password policy the task
// runs under (the creator's district's).
func (s *Service) checkDelivery(ctx context.Context, initiator rekey.User, sel rekey.Selection, roles []rekey.Role, del rekey.Delivery) (rekey.PasswordPolicy, error) {
	if !del.Mode.Valid() {
		return rekey.PasswordPolicy{}, rekey.FieldError(rekey.ECodeInvalidInput, "delivery.mode", "Choose one of email_link, default_password or generated_passwords.")
	}
	switch {
	case del.Mode == rekey.DeliverDefaultPassword && del.DefaultPassword == "":
		return rekey.PasswordPolicy{}, rekey.FieldError(rekey.ECodeInvalidInput, "delivery.defaultPassword", "Type the default password.")
	case del.Mode != rekey.DeliverDefaultPassword && del.DefaultPassword != "":
		return rekey.PasswordPolicy{}, rekey.FieldError(rekey.ECodeInvalidInput, "delivery.defaultPassword", "Only the default_password delivery takes a password.")
	}
	policy, words, err := s.policyFor(ctx, initiator, sel)
	if err != nil {
		return rekey.PasswordPolicy{}, err
	}
	if del.Mode == rekey.DeliverDefaultPassword {
		strictest := rekey.RoleStudent
		if slices.ContainsFunc(roles, rekey.Role.IsStaff) {
			strictest = rekey.RoleTeacher
		}
		if err := password.Check(policy, "delivery.defaultPassword", del.DefaultPassword, rekey.User{Role: strictest}, words...); err != nil {
			return rekey.PasswordPolicy{}, err
		}
	}
	return policy, nil
}

// kidFriendlyGrade is the initiator's district's kid-friendly grade limit
// (its settings; the default without a district), which a task captures
// at its start as it captures the policy.
func (s *Service) kidFriendlyGrade(ctx context.Context, initiator rekey.User) (*int, error) {
	grade, err := password.KidFriendlyMaxGradeFor(ctx, s.store, initiator)
	if err != nil {
		return nil, fmt.Errorf("bulk: %w", err)
	}
	return &grade, nil
}

// policyFor returns the initiator's district policy and the district and
// school names a default password must not contain.
func (s *Service) policyFor(ctx context.Context, initiator rekey.User, sel rekey.Selection) (rekey.PasswordPolicy, []string, error) {
	policy := rekey.DefaultPasswordPolicy
	var words []string
	if initiator.DistrictID != "" {
		district, err := s.store.GetDistrict(ctx, initiator.DistrictID)
		switch {
		case err == nil:
			policy = district.Policy.WithDefaults()
			words = append(words, district.Name)
		case rekey.ErrorCode(err) != rekey.ECodeNotFound:
			return policy, nil, fmt.Errorf("bulk: read district: %w", err)
		}
	}
	for _, id := range []string{sel.SchoolID, initiator.SchoolID} {
		if id == "" {
			continue
		}
		school, err := s.store.GetSchool(ctx, id)
		switch {
		case err == nil:
			words = append(words, school.Name)
		case rekey.ErrorCode(err) != rekey.ECodeNotFound:
			return policy, nil, fmt.Errorf("bulk: read school: %w", err)
		}
	}
	return policy, words, nil
}
