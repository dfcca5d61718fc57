// Package guardians is the guardian side of Rekey (API.md "Guardians"):
// students' parent codes, a guardian's registration and added children with
// such a code, and the guardian's view of their children. Who may do what is
// package authz (rekey.RoleGuardian, ActionGuardianReset); the guardian's
// temporary password for a child is package resets (GuardianResetTemporary).
//
// Parent codes (code.go) are random, single-use, expire after
// rekey.ParentCodeTTL and are stored only as a SHA-256 hash (to find and
// compare them) and sealed under a data key of their own (envelope
// encryption under the KMS key, as a bulk task's passwords), so that the
// student and their staff can be shown the same code again until it is
// used, regenerated or expired, and a reader of the table without
// kms:Decrypt learns nothing. A student (or staff member) who asks for the
// code when none is valid gets a new one.
package guardians

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/bulk/envelope"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
	"github.com/rekey/rekey/shared/users"
)

// Store is what the service needs of the data store; *dynamo.Store and
// *memstore.Store satisfy it.
type Store interface {
	GetUser(ctx context.Context, id string) (rekey.User, error)
	GetUsers(ctx context.Context, ids []string) (map[string]rekey.User, error)
	GetUserByParentCode(ctx context.Context, hash string) (rekey.User, error)
	ListUsers(ctx context.Context, f rekey.UserFilter) (rekey.UserPage, error)
	WriteUsers(ctx context.Context, w rekey.UsersWrite) error
	GetDistrict(ctx context.Context, id string) (rekey.District, error)
	GetSchool(ctx context.Context, id string) (rekey.School, error)
	CountRequest(ctx context.Context, key string, at time.Time, window time.Duration) (int, error)
}

// Keyring makes and opens the data key a code is sealed with;
// *kmskeys.Keys satisfies it.
type Keyring interface {
	NewKey(ctx context.Context, owner string) (envelope.Key, []byte, error)
	OpenKey(ctx context.Context, owner string, sealed []byte) (envelope.Key, error)
}

// hasher hashes a new guardian's password; password.Hasher satisfies it.
type hasher interface {
	Hash(password string) (string, error)
}

// childResetter sets a child's temporary password; *resets.Service
// satisfies it.
type childResetter interface {
	GuardianResetTemporary(ctx context.Context, guardian rekey.User, childID, requestID string) (string, error)
}

// Config holds the registration throttle: at most RegisterPerClient
// registrations and added children (right or wrong) per client address in
// each RegisterWindow, like forgot-password requests.
type Config struct {
	RegisterPerClient int
	RegisterWindow    time.Duration
}

// DefaultConfig is 10 attempts per client per 15 minutes.
var DefaultConfig = Config{RegisterPerClient: 10, RegisterWindow: 15 * time.Minute}

// Service is the guardian and parent-code service.
type Service struct {
	store  Store
	keys   Keyring
	hasher hasher
	resets childResetter
	cfg    Config
	now    func() time.Time
}

// NewService returns a Service; now may be nil (time.Now).
func NewService(store Store, keys Keyring, h hasher, r childResetter, cfg Config, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if cfg.RegisterPerClient <= 0 || cfg.RegisterWindow <= 0 {
		cfg = DefaultConfig
	}
	return &Service{store: store, keys: keys, hasher: h, resets: r, cfg: cfg, now: now}
}

// Code is a parent code as shown to a student or their staff.
type Code struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expiresAt"`
}

// maxChildren bounds one guardian's links (and so the items of a write).
const maxChildren = 20

// keyOwner binds a code's data key to its student.
func keyOwner(studentID string) string { return "parent-code/" + studentID }

// MyCode is a student's own parent code: the pending one, or a new one.
func (s *Service) MyCode(ctx context.Context, actor rekey.User, requestID string) (Code, error) {
	if actor.Role != rekey.RoleStudent || actor.Status != rekey.StatusActive {
		return Code{}, rekey.ErrForbidden
	}
	return s.showOrIssue(ctx, actor, actor.ID, false, requestID)
}

// StudentCode is a student's parent code for staff who may reset the
// student: the pending one, or a new one. regenerate replaces a pending
// code (the old one dies). A user the actor may not view is
// rekey.ErrNotFound; one they view but may not reset, or who is not a
// student, rekey.ErrForbidden.
func (s *Service) StudentCode(ctx context.Context, actor rekey.User, studentID string, regenerate bool, requestID string) (Code, error) {
	if !rekey.ValidID(studentID) {
		return Code{}, rekey.ErrNotFound
	}
	student, err := s.store.GetUser(ctx, studentID)
	if err != nil {
		if rekey.ErrorCode(err) == rekey.ECodeNotFound {
			return Code{}, rekey.ErrNotFound
		}
		return Code{}, fmt.Errorf("guardians: read student: %w", err)
	}
	switch {
	case !authz.Allowed(actor, student, authz.ActionView):
		return Code{}, rekey.ErrNotFound
	case !authz.Allowed(actor, student, authz.ActionReset) || student.Role != rekey.RoleStudent:
		return Code{}, rekey.ErrForbidden
	}
	return s.showOrIssue(ctx, actor, studentID, regenerate, requestID)
}

// showOrIssue reads the student again and shows their valid code, or makes
// one (always when regenerate). A concurrent writer's newer version is
// re-read, so two first views end with one code both can show.
func (s *Service) showOrIssue(ctx context.Context, actor rekey.User, studentID string, regenerate bool, requestID string) (Code, error) {
	for attempt := 0; attempt < 3; attempt++ {
		student, err := s.store.GetUser(ctx, studentID)
		if err != nil {
			return Code{}, fmt.Errorf("guardians: read student: %w", err)
		}
		now := s.now()
		if !regenerate && student.ParentCode.Valid(now) {
			return s.open(ctx, student)
		}
		code, err := s.issue(ctx, actor, student, requestID)
		if errors.Is(err, rekey.ErrVersionConflict) {
			regenerate = false // someone else's new code is as good
			continue
		}
		return code, err
	}
	return Code{}, rekey.ErrConflict
}

// open unseals a student's pending code.
func (s *Service) open(ctx context.Context, student rekey.User) (Code, error) {
	key, err := s.keys.OpenKey(ctx, keyOwner(student.ID), student.ParentCode.SealedKey)
	if err != nil {
		return Code{}, fmt.Errorf("guardians: open parent code key: %w", err)
	}
	plain, err := key.Open(student.ParentCode.Sealed, student.ID+"/"+student.ParentCode.Hash)
	if err != nil {
		return Code{}, fmt.Errorf("guardians: open parent code: %w", err)
	}
	return Code{Code: string(plain), ExpiresAt: student.ParentCode.ExpiresAt}, nil
}

// issue makes a new code for student, replacing (and so killing) any other.
func (s *Service) issue(ctx context.Context, actor, student rekey.User, requestID string) (Code, error) {
	display, err := newCode()
	if err != nil {
		return Code{}, fmt.Errorf("guardians: make parent code: %w", err)
	}
	canonical, _ := normaliseCode(display)
	hash := hashCode(canonical)
	key, sealedKey, err := s.keys.NewKey(ctx, keyOwner(student.ID))
	if err != nil {
		return Code{}, fmt.Errorf("guardians: parent code key: %w", err)
	}
	now := s.now()
	after := student
	after.ParentCode = rekey.ParentCode{Hash: hash, Sealed: key.Seal([]byte(display), student.ID+"/"+hash),
		SealedKey: sealedKey, ExpiresAt: now.Add(rekey.ParentCodeTTL)}
	after.Version, after.UpdatedAt = student.Version+1, now
	w := rekey.UsersWrite{Updates: []rekey.UserUpdate{{Before: student, After: after}},
		PutCodes: []rekey.ParentCodeClaim{{Hash: hash, UserID: student.ID}}}
	action := rekey.ActionParentCodeIssue
	if student.ParentCode.Hash != "" {
		// The old claim goes with the old code (if it is still there).
		w.UseCodes = []rekey.ParentCodeClaim{{Hash: student.ParentCode.Hash, UserID: student.ID}}
		action = rekey.ActionParentCodeReplaced
	}
	w.Audit = []rekey.AuditEntry{entry(actor, student, action, "parent code made; valid 30 days", requestID, now)}
	err = s.store.WriteUsers(ctx, w)
	if errors.Is(err, rekey.ErrInvalidCode) {
		// The old claim was used between our read and write: the student's
		// version moved too, so this is a conflict to re-read.
		return Code{}, rekey.ErrVersionConflict
	}
	if err != nil {
		return Code{}, fmt.Errorf("guardians: store parent code: %w", err)
	}
	return Code{Code: display, ExpiresAt: after.ParentCode.ExpiresAt}, nil
}

// entry is an audit entry about actor acting on target.
func entry(actor, target rekey.User, action, detail, requestID string, now time.Time) rekey.AuditEntry {
	return rekey.AuditEntry{ID: rekey.NewID(), At: now, DistrictID: target.DistrictID, ActorID: actor.ID,
		ActorName: actor.FullName(), TargetID: target.ID, Action: action, Outcome: rekey.OutcomeSuccess,
		Detail: detail, RequestID: requestID}
}

// Registration is the body of POST /api/guardians/register.
type Registration struct {
	ParentCode string `json:"parentCode"`
	FirstName  string `json:"firstName"`
	LastName   string `json:"lastName"`
	Email      string `json:"email"`
	Username   string `json:"username"`
	Password   string `json:"password"`
}

// errTooManyCodeAttempts refuses a client that typed parent codes too
// often (registrations and added children count together).
var errTooManyCodeAttempts = &rekey.Error{Code: rekey.ECodeTooManyAttempts, Message: "Too many parent code attempts. Wait a little and try again."}

// throttle counts one registration or added child from clientIP.
func (s *Service) throttle(ctx context.Context, clientIP string) error {
	if clientIP == "" {
		clientIP = "unknown"
	}
	now := s.now()
	n, err := s.store.CountRequest(ctx, "guardian-code#client#"+clientIP, now, s.cfg.RegisterWindow)
	if err != nil {
		return fmt.Errorf("guardians: count attempts: %w", err)
	}
	if n > s.cfg.RegisterPerClient {
		wait := s.cfg.RegisterWindow - now.Sub(now.Truncate(s.cfg.RegisterWindow))
		return &resets.TooManyRequestsError{Wait: max(wait, time.Second), Err: errTooManyCodeAttempts}
	}
	return nil
}

// studentByCode finds the student of a typed code: rekey.ErrInvalidCode for
// a malformed, unknown, used or expired code, compared in constant time.
func (s *Service) studentByCode(ctx context.Context, typed string) (rekey.User, string, error) {
	canonical, ok := normaliseCode(typed)
	if !ok {
		return rekey.User{}, "", rekey.ErrInvalidCode
	}
	hash := hashCode(canonical)
	student, err := s.store.GetUserByParentCode(ctx, hash)
	if rekey.ErrorCode(err) == rekey.ECodeNotFound {
		return rekey.User{}, "", rekey.ErrInvalidCode
	}
	if err != nil {
		return rekey.User{}, "", fmt.Errorf("guardians: find parent code: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(student.ParentCode.Hash), []byte(hash)) != 1 ||
		!student.ParentCode.Valid(s.now()) || student.Role != rekey.RoleStudent || student.Status == rekey.StatusDisabled {
		return rekey.User{}, "", rekey.ErrInvalidCode
	}
	return student, hash, nil
}

// Register creates a guardian linked to the student whose code it names and
// uses the code up, all in one write. Every field is checked first and the
// password is hashed whatever the code, so that a wrong code, a used one and
// a taken username or email cost the same time; only a valid code learns
// whether the username or email is taken (409), and attempts are throttled
// per client address.
func (s *Service) Register(ctx context.Context, r Registration, clientIP, requestID string) (rekey.User, error) {
	g, err := newGuardian(r)
	if err != nil {
		return rekey.User{}, err
	}
	if err := s.throttle(ctx, clientIP); err != nil {
		return rekey.User{}, err
	}
	hash, hashErr := s.hasher.Hash(r.Password) // before the code, for the timing
	student, codeHash, err := s.studentByCode(ctx, r.ParentCode)
	if err != nil {
		return rekey.User{}, err
	}
	g.DistrictID = student.DistrictID
	policy := rekey.DefaultPasswordPolicy
	if d, err := s.store.GetDistrict(ctx, student.DistrictID); err == nil {
		policy = d.Policy.WithDefaults()
	}
	if err := password.Check(policy, "password", r.Password, g); err != nil {
		return rekey.User{}, err
	}
	if hashErr != nil {
		return rekey.User{}, fmt.Errorf("guardians: hash password: %w", hashErr)
	}
	now := s.now()
	g.ID, g.PasswordHash, g.PasswordChangedAt = rekey.NewID(), hash, now
	g.Version, g.SessionGen, g.CreatedAt, g.UpdatedAt = 1, 1, now, now
	g.GuardianOf = []string{student.ID}
	linked := linkChild(student, g.ID, now)
	created := entry(g, g, rekey.ActionGuardianRegister, "guardian registered with a parent code", requestID, now)
	created.After = g.AuditView()
	err = s.store.WriteUsers(ctx, rekey.UsersWrite{Creates: []rekey.User{g},
		Updates:  []rekey.UserUpdate{{Before: student, After: linked}},
		UseCodes: []rekey.ParentCodeClaim{{Hash: codeHash, UserID: student.ID}},
		Audit: []rekey.AuditEntry{created,
			entry(g, student, rekey.ActionGuardianRegister, "guardian "+g.FullName()+" linked with the parent code", requestID, now)}})
	switch {
	case errors.Is(err, rekey.ErrVersionConflict):
		return rekey.User{}, rekey.ErrInvalidCode // the code was used or replaced meanwhile
	case err != nil:
		return rekey.User{}, fmt.Errorf("guardians: register: %w", err)
	}
	return g, nil
}

// newGuardian checks a registration's fields.
func newGuardian(r Registration) (rekey.User, error) {
	g := rekey.User{Role: rekey.RoleGuardian, Status: rekey.StatusActive}
	var err error
	if strings.TrimSpace(r.ParentCode) == "" {
		return g, rekey.FieldError(rekey.ECodeInvalidInput, "parentCode", "Enter the parent code your child or the school gave you.")
	}
	if g.FirstName, err = users.NormaliseText("firstName", r.FirstName); err != nil {
		return g, err
	}
	if g.LastName, err = users.NormaliseText("lastName", r.LastName); err != nil {
		return g, err
	}
	if g.Username, err = users.NormaliseUsername(r.Username); err != nil {
		return g, err
	}
	if g.Email, err = users.NormaliseEmail(r.Email); err != nil {
		return g, err
	}
	if g.Email == "" {
		return g, rekey.FieldError(rekey.ECodeInvalidInput, "email", "Enter your email address, so that you can recover your account.")
	}
	if r.Password == "" {
		return g, rekey.FieldError(rekey.ECodeInvalidInput, "password", "Choose a password.")
	}
	return g, nil
}

// linkChild returns student with guardianID among its guardians and the
// code used up.
func linkChild(student rekey.User, guardianID string, now time.Time) rekey.User {
	after := student
	after.Guardians = append(slices.Clone(student.Guardians), guardianID)
	after.ParentCode = rekey.ParentCode{}
	after.Version, after.UpdatedAt = student.Version+1, now
	return after
}

// AddChild links a signed-in guardian to the student of a code, using the
// code up. Attempts are throttled as registrations.
func (s *Service) AddChild(ctx context.Context, actor rekey.User, typed, clientIP, requestID string) (rekey.User, error) {
	if actor.Role != rekey.RoleGuardian || actor.Status != rekey.StatusActive {
		return rekey.User{}, rekey.ErrForbidden
	}
	if strings.TrimSpace(typed) == "" {
		return rekey.User{}, rekey.FieldError(rekey.ECodeInvalidInput, "parentCode", "Enter the parent code.")
	}
	if err := s.throttle(ctx, clientIP); err != nil {
		return rekey.User{}, err
	}
	student, codeHash, err := s.studentByCode(ctx, typed)
	if err != nil {
		return rekey.User{}, err
	}
	guardian, err := s.store.GetUser(ctx, actor.ID)
	if err != nil {
		return rekey.User{}, fmt.Errorf("guardians: read guardian: %w", err)
	}
	// Another district's code is as invalid as an unknown one.
	if student.DistrictID != guardian.DistrictID {
		return rekey.User{}, rekey.ErrInvalidCode
	}
	if slices.Contains(guardian.GuardianOf, student.ID) {
		return rekey.User{}, rekey.FieldError(rekey.ECodeInvalidInput, "parentCode", "This child is already linked to your account.")
	}
	if len(guardian.GuardianOf) >= maxChildren {
		return rekey.User{}, rekey.FieldError(rekey.ECodeInvalidInput, "parentCode", "An account can have at most 20 children.")
	}
	now := s.now()
	gAfter := guardian
	gAfter.GuardianOf = append(slices.Clone(guardian.GuardianOf), student.ID)
	gAfter.Version, gAfter.UpdatedAt = guardian.Version+1, now
	linked := linkChild(student, guardian.ID, now)
	err = s.store.WriteUsers(ctx, rekey.UsersWrite{
		Updates:  []rekey.UserUpdate{{Before: guardian, After: gAfter}, {Before: student, After: linked}},
		UseCodes: []rekey.ParentCodeClaim{{Hash: codeHash, UserID: student.ID}},
		Audit: []rekey.AuditEntry{entry(guardian, student, rekey.ActionGuardianAddChild,
			"guardian "+guardian.FullName()+" linked with the parent code", requestID, now)}})
	switch {
	case errors.Is(err, rekey.ErrVersionConflict) || errors.Is(err, rekey.ErrInvalidCode):
		return rekey.User{}, rekey.ErrInvalidCode
	case err != nil:
		return rekey.User{}, fmt.Errorf("guardians: add child: %w", err)
	}
	return linked, nil
}

// Children lists the guardian's linked children (both sides of the link,
// as authz requires), sorted by name.
func (s *Service) Children(ctx context.Context, actor rekey.User) ([]rekey.User, error) {
	if actor.Role != rekey.RoleGuardian || actor.Status != rekey.StatusActive {
		return nil, rekey.ErrForbidden
	}
	found, err := s.store.GetUsers(ctx, actor.GuardianOf)
	if err != nil {
		return nil, fmt.Errorf("guardians: read children: %w", err)
	}
	out := []rekey.User{}
	for _, id := range actor.GuardianOf {
		if c, ok := found[id]; ok && authz.Allowed(actor, c, authz.ActionView) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b rekey.User) int { return strings.Compare(a.FullName(), b.FullName()) })
	return out, nil
}

// ResetChild sets a temporary password for one of the guardian's children.
func (s *Service) ResetChild(ctx context.Context, actor rekey.User, childID, requestID string) (string, error) {
	if actor.Role != rekey.RoleGuardian {
		return "", rekey.ErrNotFound
	}
	return s.resets.GuardianResetTemporary(ctx, actor, childID, requestID)
}
