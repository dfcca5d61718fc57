// Package memstore is the data store in memory: users with their username
// and email claims, audit trail, districts and schools, sessions, sign-in
// throttles, forgot-password request counters, reset writes, secrets, bulk
// tasks with their chunks and leases, the mail outbox, schedules and their
// runs, with the conditions and errors of the DynamoDB store (shared/dynamo).
//
// It exists so that the services' tests run against one store whose
// behaviour is proven, not a hand-written fake per package that drifts from
// the real one: the contract suite in shared/dynamo/storetest runs against
// both this store and *dynamo.Store on moto. It imports only the domain
// (shared/rekey), so that tests inside any package (auth, resets, users,
// api) can use it without an import cycle.
//
// It is for tests and local benchmarks; nothing expires on its own except
// what the DynamoDB store also hides on read (expired sessions, ended
// throttle windows and locks).
package memstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// Store holds everything in maps behind one mutex, so that each method is
// one atomic step, as each DynamoDB request or transaction is.
type Store struct {
	now func() time.Time

	mu sync.Mutex
	userTables
	codes      map[string]string  // claim: parent code hash → student id
	audit      []rekey.AuditEntry // in the order written
	districts  map[string]rekey.District
	schools    map[string]rekey.School
	sessions   map[string]rekey.Session // by token hash
	throttles  map[string]throttle
	counts     map[string]int // request counters by key and window start
	secrets    map[string][]byte
	bulk       bulkState
	deliveries map[string]rekey.MailDelivery // the mail outbox, by job key
	runs       map[string]rekey.ScheduleRun  // by runKey
	schedules  map[string]rekey.Schedule     // by id
}

// New returns an empty store that reads the time (for session expiry, the
// state of throttles and audit entries without a time) from now.
func New(now func() time.Time) *Store {
	return &Store{
		now: now,
		userTables: userTables{
			users:     map[string]rekey.User{},
			usernames: map[string]string{},
			emails:    map[string]string{},
			externals: map[string]string{},
		},
		codes:      map[string]string{},
		districts:  map[string]rekey.District{},
		schools:    map[string]rekey.School{},
		sessions:   map[string]rekey.Session{},
		throttles:  map[string]throttle{},
		counts:     map[string]int{},
		secrets:    map[string][]byte{},
		bulk:       newBulkState(),
		deliveries: map[string]rekey.MailDelivery{},
		runs:       map[string]rekey.ScheduleRun{},
		schedules:  map[string]rekey.Schedule{},
	}
}

// errInvalidCursor is the error of a cursor this store did not make, with
// the code the DynamoDB store gives it.
var errInvalidCursor = &rekey.Error{
	Code:    rekey.ECodeInvalidCursor,
	Field:   "cursor",
	Message: "The cursor is not valid for this listing.",
}

// cursorAfter encodes the sort key of the last item of a page.
func cursorAfter(sortKey string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("mem:" + sortKey))
}

// page returns the items of all (sorted by key, ascending or, when desc,
// descending) that follow cursor, at most limit of them, and the cursor of
// the next page ("" on the last one).
func page[T any](all []T, key func(T) string, desc bool, cursor string, limit int) ([]T, string, error) {
	start := 0
	if cursor != "" {
		data, err := base64.RawURLEncoding.DecodeString(cursor)
		after, ok := strings.CutPrefix(string(data), "mem:")
		if err != nil || !ok {
			return nil, "", errInvalidCursor
		}
		start = len(all)
		for i, item := range all {
			if k := key(item); !desc && k > after || desc && k < after {
				start = i
				break
			}
		}
	}
	end := min(start+limit, len(all))
	items := append(make([]T, 0, end-start), all[start:end]...)
	if end < len(all) && end > start {
		return items, cursorAfter(key(all[end-1])), nil
	}
	return items, "", nil
}

// GetUser returns the user with the given id, or rekey.ErrNotFound.
func (s *Store) GetUser(_ context.Context, id string) (rekey.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return rekey.User{}, fmt.Errorf("memstore: get user %s: %w", id, rekey.ErrNotFound)
	}
	return ownLinks(u), nil
}

// ownLinks gives u link lists of its own, so that a caller changing a
// slice it wrote or read never changes the stored user (as a copy in
// DynamoDB could not be). Empty lists read back as nil, as from DynamoDB.
func ownLinks(u rekey.User) rekey.User {
	u.GuardianOf = slices.Clip(slices.Clone(u.GuardianOf))
	u.Guardians = slices.Clip(slices.Clone(u.Guardians))
	if len(u.GuardianOf) == 0 {
		u.GuardianOf = nil
	}
	if len(u.Guardians) == 0 {
		u.Guardians = nil
	}
	return u
}

// GetUsers reads the users with the given ids; missing ones are left out.
func (s *Store) GetUsers(_ context.Context, ids []string) (map[string]rekey.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]rekey.User, len(ids))
	for _, id := range ids {
		if u, ok := s.users[id]; ok {
			out[id] = ownLinks(u)
		}
	}
	return out, nil
}

// GetUserByUsername returns the user holding username, compared without
// regard to case, or rekey.ErrNotFound.
func (s *Store) GetUserByUsername(_ context.Context, username string) (rekey.User, error) {
	return s.byClaim(s.usernames, username, "username")
}

// GetUserByEmail returns the user holding email, compared without regard
// to case, or rekey.ErrNotFound.
func (s *Store) GetUserByEmail(_ context.Context, email string) (rekey.User, error) {
	return s.byClaim(s.emails, email, "email")
}

func (s *Store) byClaim(claims map[string]string, value, what string) (rekey.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := claims[strings.ToLower(value)]
	if value == "" || !ok {
		return rekey.User{}, fmt.Errorf("memstore: get user by %s: %w", what, rekey.ErrNotFound)
	}
	return ownLinks(s.users[id]), nil
}

// CreateUser writes u with its username and email claims and, when audit is
// not nil, the audit entry. A clash is rekey.ErrUsernameTaken or
// rekey.ErrEmailTaken (checked in that order); an existing id is
// rekey.ErrConflict.
func (s *Store) CreateUser(_ context.Context, u rekey.User, audit *rekey.AuditEntry) error {
	if u.ID == "" || u.Username == "" {
		return fmt.Errorf("memstore: create user %s: user id and username are required", u.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.create(u); err != nil {
		return fmt.Errorf("memstore: create user %s: %w", u.ID, err)
	}
	s.addAudit(audit)
	return nil
}

// userTables are the users with their claims (lower-case username, lower-case
// email, districtId#externalId → user id), which every user write changes
// together: one user at a time (CreateUser, UpdateUser) or on a copy that
// is kept only when every write of a WriteUsers held.
type userTables struct {
	users     map[string]rekey.User // by id
	usernames map[string]string
	emails    map[string]string
	externals map[string]string
}

func (t userTables) clone() userTables {
	return userTables{users: maps.Clone(t.users), usernames: maps.Clone(t.usernames), emails: maps.Clone(t.emails), externals: maps.Clone(t.externals)}
}

// create adds u with its claims, unless its id exists (rekey.ErrConflict)
// or a claim is taken (rekey.ErrUsernameTaken, rekey.ErrEmailTaken,
// rekey.ErrExternalIDTaken, checked in that order).
func (t userTables) create(u rekey.User) error {
	if _, ok := t.users[u.ID]; ok {
		return rekey.ErrConflict
	}
	return t.write(rekey.User{ID: u.ID}, u)
}

// write replaces before with after (a user without a username: none yet),
// moving the claims that changed, unless one of them is taken; it changes
// nothing when it fails.
func (t userTables) write(before, after rekey.User) error {
	oldName, newName := strings.ToLower(before.Username), strings.ToLower(after.Username)
	if id, taken := t.usernames[newName]; oldName != newName && taken && id != after.ID {
		return rekey.ErrUsernameTaken
	}
	oldEmail, newEmail := strings.ToLower(before.Email), strings.ToLower(after.Email)
	if id, taken := t.emails[newEmail]; oldEmail != newEmail && newEmail != "" && taken && id != after.ID {
		return rekey.ErrEmailTaken
	}
	oldExt, newExt := externalKey(before), externalKey(after)
	if id, taken := t.externals[newExt]; oldExt != newExt && newExt != "" && taken && id != after.ID {
		return rekey.ErrExternalIDTaken
	}
	moveClaim(t.usernames, after.ID, oldName, newName)
	moveClaim(t.emails, after.ID, oldEmail, newEmail)
	moveClaim(t.externals, after.ID, oldExt, newExt)
	t.users[after.ID] = ownLinks(after)
	return nil
}

// update writes after under before's version and, when holds is not nil,
// its further condition on the stored user (else rekey.ErrVersionConflict).
func (t userTables) update(before, after rekey.User, holds func(rekey.User) bool) error {
	if err := rekey.CheckUserUpdate(before, after); err != nil {
		return err
	}
	stored, ok := t.users[before.ID]
	if !ok || stored.Version != before.Version || holds != nil && !holds(stored) {
		return rekey.ErrVersionConflict
	}
	return t.write(before, after)
}

// UpdateUser replaces the stored user with after, provided the stored
// version still equals before.Version, moving a changed username or email
// claim and writing audit (when not nil) in the same step. Errors:
// rekey.ErrVersionConflict (stale or missing user), rekey.ErrUsernameTaken,
// rekey.ErrEmailTaken.
func (s *Store) UpdateUser(_ context.Context, before, after rekey.User, audit *rekey.AuditEntry) error {
	if err := s.updateUser(before, after, audit, nil); err != nil {
		return fmt.Errorf("memstore: update user %s: %w", before.ID, err)
	}
	return nil
}

// updateUser is every user write: after under before's version and, when
// holds is not nil, on its further condition on the stored user.
func (s *Store) updateUser(before, after rekey.User, audit *rekey.AuditEntry, holds func(rekey.User) bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.update(before, after, holds); err != nil {
		return err
	}
	s.addAudit(audit)
	return nil
}

// Edit writes u over the stored user as another writer (an administrator's
// edit) would: under the stored version, as the next version, moving its
// claims. It is for tests that change a user behind a service's back.
func (s *Store) Edit(ctx context.Context, u rekey.User) error {
	before, err := s.GetUser(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("memstore: edit: %w", err)
	}
	u.Version = before.Version + 1
	return s.UpdateUser(ctx, before, u, nil)
}

// RemoveUser deletes the user with the given id and its claims. The
// DynamoDB store has no such write: it is for tests of a user who is gone
// when a service reads them.
func (s *Store) RemoveUser(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return
	}
	delete(s.users, id)
	moveClaim(s.usernames, id, strings.ToLower(u.Username), "")
	moveClaim(s.emails, id, strings.ToLower(u.Email), "")
	moveClaim(s.externals, id, externalKey(u), "")
}

// externalKey is the claim on u's externalId within its district ("" for
// none): external ids are unique per district and kept as given.
func externalKey(u rekey.User) string {
	if u.DistrictID == "" || u.ExternalID == "" {
		return ""
	}
	return u.DistrictID + "#" + u.ExternalID
}

// FindUsers returns the users of districtID holding one of externalIDs,
// and the users of any district holding one of usernames or emails
// (without regard to case), each once.
func (s *Store) FindUsers(_ context.Context, districtID string, externalIDs, usernames, emails []string) ([]rekey.User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	var out []rekey.User
	add := func(id string, ok bool) {
		if ok && !seen[id] {
			seen[id] = true
			out = append(out, s.users[id])
		}
	}
	for _, x := range externalIDs {
		if x != "" && districtID != "" {
			id, ok := s.externals[districtID+"#"+x]
			add(id, ok)
		}
	}
	for _, name := range usernames {
		id, ok := s.usernames[strings.ToLower(name)]
		add(id, ok && name != "")
	}
	for _, email := range emails {
		id, ok := s.emails[strings.ToLower(email)]
		add(id, ok && email != "")
	}
	return out, nil
}

// moveClaim moves userID's claim from one value to another (either may be
// empty); the old claim goes only if it is still userID's.
func moveClaim(claims map[string]string, userID, from, to string) {
	if from == to {
		return
	}
	if from != "" && claims[from] == userID {
		delete(claims, from)
	}
	if to != "" {
		claims[to] = userID
	}
}

// SaveReset writes after, the user with a changed reset state or password,
// provided the stored user is still at before's version (else
// rekey.ErrVersionConflict), with audit when it is not nil. A reset never
// renames a user or changes their email.
func (s *Store) SaveReset(_ context.Context, before, after rekey.User, audit *rekey.AuditEntry) error {
	if err := rekey.CheckPasswordUpdate(before, after); err != nil {
		return fmt.Errorf("memstore: save reset of %s: %w", before.ID, err)
	}
	if err := s.updateUser(before, after, audit, nil); err != nil {
		return fmt.Errorf("memstore: save reset of %s: %w", before.ID, err)
	}
	return nil
}

// RedeemReset writes after and audit on the condition that the stored user
// is still at before's version and still holds tokenHash in one of its
// reset slots; a failed condition is rekey.ErrVersionConflict.
func (s *Store) RedeemReset(_ context.Context, tokenHash string, before, after rekey.User, audit rekey.AuditEntry) error {
	if err := rekey.CheckPasswordUpdate(before, after); err != nil {
		return fmt.Errorf("memstore: redeem reset of %s: %w", before.ID, err)
	}
	if tokenHash == "" {
		return errors.New("memstore: redeem reset: no token hash")
	}
	holds := func(u rekey.User) bool { return u.ResetTokenHash == tokenHash || u.SelfResetTokenHash == tokenHash }
	if err := s.updateUser(before, after, &audit, holds); err != nil {
		return fmt.Errorf("memstore: redeem reset of %s: %w", before.ID, err)
	}
	return nil
}

// ListUsers returns one page of users: of a school when f.SchoolID is set
// (and of f.DistrictID too, when that is set), else of a district, else of
// every district. Pages of a school or district come in role, last name,
// first name order (every district: in id order), narrowed by f.Role,
// f.Grade and f.Query (a case-insensitive substring of the full name,
// username or email).
func (s *Store) ListUsers(_ context.Context, f rekey.UserFilter) (rekey.UserPage, error) {
	return s.userPage(f, rekey.UserPaging.Clamp(f.Limit))
}

// userPage is one page of at most limit users of ListUsers' filter f.
func (s *Store) userPage(f rekey.UserFilter, limit int) (rekey.UserPage, error) {
	s.mu.Lock()
	var all []rekey.User
	q := strings.ToLower(strings.TrimSpace(f.Query))
	for _, u := range s.users {
		switch {
		case f.SchoolID != "" && u.SchoolID != f.SchoolID,
			f.DistrictID != "" && u.DistrictID != f.DistrictID,
			f.Role != "" && u.Role != f.Role,
			f.Grade != "" && u.Grade != f.Grade,
			q != "" && !strings.Contains(searchText(u), q):
			continue
		}
		all = append(all, ownLinks(u))
	}
	s.mu.Unlock()
	key := userSortKey
	if f.SchoolID == "" && f.DistrictID == "" {
		key = func(u rekey.User) string { return u.ID }
	}
	slices.SortFunc(all, func(a, b rekey.User) int { return strings.Compare(key(a), key(b)) })
	items, next, err := page(all, key, false, f.Cursor, limit)
	if err != nil {
		return rekey.UserPage{}, fmt.Errorf("memstore: list users: %w", err)
	}
	return rekey.UserPage{Items: items, Next: next}, nil
}

// userSortKey orders the users of a district or school as the DynamoDB
// store's indexes do.
func userSortKey(u rekey.User) string {
	return string(u.Role) + "#" + strings.ToLower(u.LastName) + "#" + strings.ToLower(u.FirstName) + "#" + u.ID
}

func searchText(u rekey.User) string {
	return strings.ToLower(strings.Join([]string{u.FirstName + " " + u.LastName, u.Username, u.Email}, "\n"))
}

// addAudit records e, when not nil, with an ID and At filled in; the
// caller holds mu.
func (s *Store) addAudit(e *rekey.AuditEntry) {
	if e == nil {
		return
	}
	entry := *e
	if entry.ID == "" {
		entry.ID = strings.ToLower(rand.Text())
	}
	if entry.At.IsZero() {
		entry.At = s.now()
	}
	s.audit = append(s.audit, entry)
}

// PutAudit records one audit entry on its own; an empty ID or zero At is
// filled in.
func (s *Store) PutAudit(_ context.Context, e rekey.AuditEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addAudit(&e)
	return nil
}

// ListAudit returns the audit entries about targetID, newest first.
func (s *Store) ListAudit(_ context.Context, targetID string, limit int, cursor string) (rekey.AuditPage, error) {
	return s.auditPage(func(e rekey.AuditEntry) bool { return e.TargetID == targetID }, limit, cursor)
}

// ListAuditByActor returns the audit entries of what actorID did, newest
// first.
func (s *Store) ListAuditByActor(_ context.Context, actorID string, limit int, cursor string) (rekey.AuditPage, error) {
	return s.auditPage(func(e rekey.AuditEntry) bool { return e.ActorID == actorID }, limit, cursor)
}

func (s *Store) auditPage(match func(rekey.AuditEntry) bool, limit int, cursor string) (rekey.AuditPage, error) {
	s.mu.Lock()
	var all []rekey.AuditEntry
	for _, e := range s.audit {
		if match(e) {
			all = append(all, e)
		}
	}
	s.mu.Unlock()
	// Newest first, as the DynamoDB store's sort key (time, then id) reads
	// backwards.
	key := func(e rekey.AuditEntry) string { return e.At.UTC().Format(sortableTime) + "#" + e.ID }
	slices.SortFunc(all, func(a, b rekey.AuditEntry) int { return strings.Compare(key(b), key(a)) })
	items, next, err := page(all, key, true, cursor, rekey.AuditPaging.Clamp(limit))
	if err != nil {
		return rekey.AuditPage{}, fmt.Errorf("memstore: list audit: %w", err)
	}
	return rekey.AuditPage{Items: items, Next: next}, nil
}

// sortableTime formats times so that they sort as text.
const sortableTime = "2006-01-02T15:04:05.000000000Z"

// Audit returns every audit entry written so far, oldest first, for tests
// that check what was recorded.
func (s *Store) Audit() []rekey.AuditEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.audit)
}

// PutDistrict stores (or replaces) a district.
func (s *Store) PutDistrict(_ context.Context, d rekey.District) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.districts[d.ID] = d
	return nil
}

// GetDistrict returns the district with the given id, or rekey.ErrNotFound.
func (s *Store) GetDistrict(_ context.Context, id string) (rekey.District, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.districts[id]
	if !ok {
		return rekey.District{}, fmt.Errorf("memstore: get district %s: %w", id, rekey.ErrNotFound)
	}
	return d, nil
}

// PutSchool stores (or replaces) a school.
func (s *Store) PutSchool(_ context.Context, sc rekey.School) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.schools[sc.ID] = sc
	return nil
}

// GetSchool returns the school with the given id, or rekey.ErrNotFound.
func (s *Store) GetSchool(_ context.Context, id string) (rekey.School, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.schools[id]
	if !ok {
		return rekey.School{}, fmt.Errorf("memstore: get school %s: %w", id, rekey.ErrNotFound)
	}
	return sc, nil
}

// ListSchools returns every school of a district, ordered by name
// (case-insensitively), then id. A district without schools gives an empty
// list.
func (s *Store) ListSchools(_ context.Context, districtID string) ([]rekey.School, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	schools := []rekey.School{}
	for _, sc := range s.schools {
		if sc.DistrictID == districtID {
			schools = append(schools, sc)
		}
	}
	key := func(sc rekey.School) string { return strings.ToLower(sc.Name) + "#" + sc.ID }
	slices.SortFunc(schools, func(a, b rekey.School) int { return strings.Compare(key(a), key(b)) })
	return schools, nil
}

// PutSession stores a new session (or replaces one with the same token
// hash). ExpiresAt is required.
func (s *Store) PutSession(_ context.Context, sess rekey.Session) error {
	if sess.TokenHash == "" || sess.ExpiresAt.IsZero() {
		return errors.New("memstore: put session: token hash and expiry are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[sess.TokenHash] = sess
	return nil
}

// GetSession returns the session with the given token hash, or
// rekey.ErrNotFound when there is none or it has passed its absolute expiry.
func (s *Store) GetSession(_ context.Context, tokenHash string) (rekey.Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[tokenHash]
	if !ok {
		return rekey.Session{}, fmt.Errorf("memstore: get session: %w", rekey.ErrNotFound)
	}
	if !s.now().Before(sess.ExpiresAt) {
		return rekey.Session{}, fmt.Errorf("memstore: get session: expired: %w", rekey.ErrNotFound)
	}
	return sess, nil
}

// TouchSession records activity on a session; a missing one is
// rekey.ErrNotFound.
func (s *Store) TouchSession(_ context.Context, tokenHash string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[tokenHash]
	if !ok {
		return fmt.Errorf("memstore: touch session: %w", rekey.ErrNotFound)
	}
	sess.LastSeenAt = at
	s.sessions[tokenHash] = sess
	return nil
}

// DeleteSession ends a session; ending one that does not exist is no error.
func (s *Store) DeleteSession(_ context.Context, tokenHash string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, tokenHash)
	return nil
}

// Sessions returns every stored session, expired ones included, for tests
// that check what was stored (and under which key).
func (s *Store) Sessions() []rekey.Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []rekey.Session
	for _, sess := range s.sessions {
		out = append(out, sess)
	}
	return out
}

// secretSize is the length of the keys Secret makes.
const secretSize = 32

// Secret returns the named 32-byte random key, creating it on first use.
func (s *Store) Secret(_ context.Context, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key, ok := s.secrets[name]
	if !ok {
		key = make([]byte, secretSize)
		_, _ = rand.Read(key) // never fails (crypto/rand)
		s.secrets[name] = key
	}
	return slices.Clone(key), nil
}

// WriteImportUsers writes an import's rows one by one, each with its audit
// entry, as the DynamoDB store's batches do: a row whose condition fails
// gets its error at its index and the others are written.
func (s *Store) WriteImportUsers(ctx context.Context, writes []rekey.ImportWrite) ([]error, error) {
	out := make([]error, len(writes))
	for i, w := range writes {
		if w.Creates() {
			out[i] = s.CreateUser(ctx, w.After, &w.Audit)
		} else {
			out[i] = s.UpdateUser(ctx, w.Before, w.After, &w.Audit)
		}
	}
	return out, nil
}
