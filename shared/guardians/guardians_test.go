package guardians

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rekey/rekey/shared/bulk/envelope"
	"github.com/rekey/rekey/shared/memstore"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/resets"
	"github.com/rekey/rekey/shared/testclock"
)

var fastHasher = password.Hasher{Params: password.Params{Memory: 64, Iterations: 1, Parallelism: 1}}

// fakeKeys is a Keyring without KMS: a sealed key is an index into keys,
// bound to its owner as KMS binds it to the encryption context.
type fakeKeys struct {
	mu   sync.Mutex
	keys map[string]envelope.Key
}

func (k *fakeKeys) NewKey(_ context.Context, owner string) (envelope.Key, []byte, error) {
	plain := make([]byte, envelope.KeySize)
	rand.Read(plain)
	key, err := envelope.NewKey(plain)
	if err != nil {
		return envelope.Key{}, nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		k.keys = map[string]envelope.Key{}
	}
	sealed := []byte(owner + "#" + rekey.NewID())
	k.keys[string(sealed)] = key
	return key, sealed, nil
}

func (k *fakeKeys) OpenKey(_ context.Context, owner string, sealed []byte) (envelope.Key, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	key, ok := k.keys[string(sealed)]
	if !ok || !strings.HasPrefix(string(sealed), owner+"#") {
		return envelope.Key{}, errors.New("fake kms: cannot decrypt")
	}
	return key, nil
}

type discardQueue struct{}

func (discardQueue) Send(context.Context, any) error { return nil }

type world struct {
	store *memstore.Store
	clock *testclock.Clock
	svc   *Service
	// student s1 (grade 1) and s2 of d1 school sc1; s3 of d2; a teacher and
	// a school admin of sc1.
	student, sibling, far, teacher, admin rekey.User
}

func newWorld(t *testing.T) *world {
	t.Helper()
	clock := testclock.New(time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC))
	store := memstore.New(clock.Now)
	ctx := context.Background()
	for _, d := range []string{"d1", "d2"} {
		if err := store.PutDistrict(ctx, rekey.District{ID: d, Name: "District " + d}); err != nil {
			t.Fatal(err)
		}
	}
	store.PutSchool(ctx, rekey.School{ID: "sc1", DistrictID: "d1", Name: "Lakeview"})
	store.PutSchool(ctx, rekey.School{ID: "sc3", DistrictID: "d2", Name: "Far"})
	mk := func(id string, role rekey.Role, d, sc, grade string) rekey.User {
		u := rekey.User{ID: id, DistrictID: d, SchoolID: sc, Role: role, FirstName: "F" + id, LastName: "L" + id,
			Username: id, Grade: grade, Status: rekey.StatusActive, Version: 1, SessionGen: 1, CreatedAt: clock.Now(), UpdatedAt: clock.Now()}
		if err := store.CreateUser(ctx, u, nil); err != nil {
			t.Fatal(err)
		}
		return u
	}
	w := &world{store: store, clock: clock,
		student: mk("s1", rekey.RoleStudent, "d1", "sc1", "1"), sibling: mk("s2", rekey.RoleStudent, "d1", "sc1", "5"),
		far: mk("s3", rekey.RoleStudent, "d2", "sc3", "4"), teacher: mk("t1", rekey.RoleTeacher, "d1", "sc1", ""),
		admin: mk("a1", rekey.RoleSchoolAdmin, "d1", "sc1", "")}
	rs, err := resets.NewService(resets.Config{}, resets.Deps{Store: store, Queue: discardQueue{}, Hasher: fastHasher, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	w.svc = NewService(store, &fakeKeys{}, fastHasher, rs, Config{RegisterPerClient: 5, RegisterWindow: 15 * time.Minute}, clock.Now)
	return w
}

func (w *world) reg(code, username, email string) Registration {
	return Registration{ParentCode: code, FirstName: "Pat", LastName: "Parent", Email: email, Username: username,
		Password: "a long enough passphrase for pat"}
}

func (w *world) get(t *testing.T, id string) rekey.User {
	t.Helper()
	u, err := w.store.GetUser(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestCodeFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		c, err := newCode()
		if err != nil {
			t.Fatal(err)
		}
		if len(c) != 14 || c[4] != '-' || c[9] != '-' || strings.ContainsAny(c, "ILOU") {
			t.Fatalf("newCode() = %q, want XXXX-XXXX-XXXX without I, L, O, U", c)
		}
		if seen[c] {
			t.Fatalf("newCode() repeated %q", c)
		}
		seen[c] = true
	}
	for _, test := range []struct {
		in, want string
		ok       bool
	}{
		{"ABCD-EFGH-JKMN", "ABCDEFGHJKMN", true},
		{" abcd efgh jkmn ", "ABCDEFGHJKMN", true},
		{"0I1L-O000-0000", "011100000000", true}, // read aloud: I/L are 1, O is 0
		{"ABCD-EFGH-JKM", "", false},
		{"ABCD-EFGH-JKMNP", "", false},
		{"ABCD-EFGH-JKMU", "", false},
		{"ABCD-EFGH-JKM=", "", false},
		{"ABCD-EFGH-JKMÑ", "", false},
		{"", "", false},
	} {
		got, ok := normaliseCode(test.in)
		if got != test.want && test.ok || ok != test.ok {
			t.Errorf("normaliseCode(%q) = %q, %v; want %q, %v", test.in, got, ok, test.want, test.ok)
		}
	}
}

func TestParentCodeShownAgainAndStoredHashed(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	first, err := w.svc.MyCode(ctx, w.student, "r1")
	if err != nil {
		t.Fatal(err)
	}
	if !first.ExpiresAt.Equal(w.clock.Now().Add(30 * 24 * time.Hour)) {
		t.Errorf("expiresAt = %v, want 30 days from now", first.ExpiresAt)
	}
	again, err := w.svc.MyCode(ctx, w.student, "r2")
	if err != nil || again != first {
		t.Fatalf("second MyCode = %+v, %v; want the same code %+v", again, err, first)
	}
	staff, err := w.svc.StudentCode(ctx, w.teacher, w.student.ID, false, "r3")
	if err != nil || staff != first {
		t.Fatalf("teacher's StudentCode = %+v, %v; want the same code", staff, err)
	}
	stored := w.get(t, w.student.ID)
	canonical, _ := normaliseCode(first.Code)
	for _, b := range [][]byte{stored.ParentCode.Sealed, stored.ParentCode.SealedKey, []byte(stored.ParentCode.Hash)} {
		if strings.Contains(string(b), canonical) || strings.Contains(string(b), first.Code) {
			t.Fatalf("the stored record holds the code in plain text")
		}
	}
	if stored.ParentCode.Hash != hashCode(canonical) {
		t.Errorf("stored hash is not the code's hash")
	}
	// Regenerating kills the old code.
	renewed, err := w.svc.StudentCode(ctx, w.admin, w.student.ID, true, "r4")
	if err != nil || renewed.Code == first.Code {
		t.Fatalf("regenerate = %+v, %v; want a new code", renewed, err)
	}
	if _, err := w.svc.Register(ctx, w.reg(first.Code, "pat", "pat@home.example"), "1.1.1.1", "r5"); !errors.Is(err, rekey.ErrInvalidCode) {
		t.Errorf("register with the replaced code: %v, want invalid_code", err)
	}
	// Expired: a new one is issued on the next view.
	w.clock.Add(rekey.ParentCodeTTL + time.Second)
	if _, err := w.svc.Register(ctx, w.reg(renewed.Code, "pat", "pat@home.example"), "1.1.1.2", "r6"); !errors.Is(err, rekey.ErrInvalidCode) {
		t.Errorf("register with an expired code: %v, want invalid_code", err)
	}
	fresh, err := w.svc.MyCode(ctx, w.student, "r7")
	if err != nil || fresh.Code == renewed.Code {
		t.Errorf("MyCode after expiry = %+v, %v; want a new code", fresh, err)
	}
}

func TestStudentCodeAccess(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	g := rekey.User{ID: "g", Role: rekey.RoleGuardian, DistrictID: "d1", Status: rekey.StatusActive, GuardianOf: []string{"s1"}}
	for _, test := range []struct {
		name  string
		actor rekey.User
		id    string
		want  error
	}{
		{"teacher, other district", w.teacher, "s3", rekey.ErrNotFound},
		{"teacher, unknown", w.teacher, "nobody", rekey.ErrNotFound},
		{"teacher, a teacher", w.admin, "t1", rekey.ErrForbidden},
		{"student, a sibling", w.student, "s2", rekey.ErrNotFound},
		{"guardian (not linked both ways)", g, "s1", rekey.ErrNotFound},
	} {
		t.Run(test.name, func(t *testing.T) {
			if _, err := w.svc.StudentCode(ctx, test.actor, test.id, false, "r"); !errors.Is(err, test.want) {
				t.Errorf("StudentCode = %v, want %v", err, test.want)
			}
		})
	}
	for _, actor := range []rekey.User{w.teacher, g} {
		if _, err := w.svc.MyCode(ctx, actor, "r"); !errors.Is(err, rekey.ErrForbidden) {
			t.Errorf("MyCode(%s) = %v, want forbidden", actor.Role, err)
		}
	}
}

func TestRegisterAndChildren(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	code, _ := w.svc.MyCode(ctx, w.student, "r")
	typed := strings.ToLower(strings.ReplaceAll(code.Code, "-", " ")) // read aloud and typed sloppily
	g, err := w.svc.Register(ctx, w.reg(typed, "Pat.Parent", "Pat@Home.example"), "1.1.1.1", "r1")
	if err != nil {
		t.Fatal(err)
	}
	if g.Role != rekey.RoleGuardian || g.DistrictID != "d1" || !slices.Equal(g.GuardianOf, []string{"s1"}) || g.Username != "pat.parent" {
		t.Fatalf("registered %+v", g)
	}
	if kid := w.get(t, "s1"); !slices.Equal(kid.Guardians, []string{g.ID}) || kid.ParentCode.Hash != "" {
		t.Fatalf("student after registration: guardians %v code %q", kid.Guardians, kid.ParentCode.Hash)
	}
	// Used: the same code again is invalid.
	if _, err := w.svc.Register(ctx, w.reg(code.Code, "other", "other@home.example"), "1.1.1.1", "r2"); !errors.Is(err, rekey.ErrInvalidCode) {
		t.Errorf("register with a used code: %v, want invalid_code", err)
	}
	g = w.get(t, g.ID)
	kids, err := w.svc.Children(ctx, g)
	if err != nil || len(kids) != 1 || kids[0].ID != "s1" {
		t.Fatalf("Children = %v, %v; want s1", kids, err)
	}
	// A sibling's code adds them; another district's code is invalid and
	// stays unused.
	sib, _ := w.svc.MyCode(ctx, w.sibling, "r")
	farCode, _ := w.svc.MyCode(ctx, w.far, "r")
	if _, err := w.svc.AddChild(ctx, g, farCode.Code, "1.1.1.1", "r3"); !errors.Is(err, rekey.ErrInvalidCode) {
		t.Errorf("AddChild(other district's code) = %v, want invalid_code", err)
	}
	if far := w.get(t, "s3"); far.ParentCode.Hash == "" || len(far.Guardians) != 0 {
		t.Errorf("the other district's code was used: %+v", far)
	}
	if _, err := w.svc.AddChild(ctx, g, sib.Code, "1.1.1.1", "r4"); err != nil {
		t.Fatal(err)
	}
	g = w.get(t, g.ID)
	if kids, _ := w.svc.Children(ctx, g); len(kids) != 2 {
		t.Errorf("Children after AddChild = %d, want 2", len(kids))
	}
	// The guardian's temporary password for a child: forced change, audited.
	pw, err := w.svc.ResetChild(ctx, g, "s1", "r5")
	if err != nil || pw == "" {
		t.Fatalf("ResetChild = %q, %v", pw, err)
	}
	kid := w.get(t, "s1")
	if !kid.MustChangePassword {
		t.Error("the child need not change the temporary password")
	}
	if ok, _, _ := fastHasher.Verify(kid.PasswordHash, pw); !ok {
		t.Error("the child's password is not the temporary one")
	}
	page, _ := w.store.ListAudit(ctx, "s1", 10, "")
	i := slices.IndexFunc(page.Items, func(e rekey.AuditEntry) bool { return e.Action == rekey.ActionGuardianReset })
	if i < 0 || page.Items[i].ActorID != g.ID || page.Items[i].Outcome != rekey.OutcomeSuccess || strings.Contains(page.Items[i].Detail, pw) {
		t.Errorf("child's activity = %+v, want the guardian's reset", page.Items)
	}
	// Every student who is not their child is not found; staff neither.
	for _, id := range []string{"s3", "t1", "a1", "nobody", g.ID} {
		if _, err := w.svc.ResetChild(ctx, g, id, "r"); !errors.Is(err, rekey.ErrNotFound) {
			t.Errorf("ResetChild(%s) = %v, want not found", id, err)
		}
	}
	// A student (even the child) may not use the guardian endpoints.
	if _, err := w.svc.ResetChild(ctx, w.sibling, "s1", "r"); !errors.Is(err, rekey.ErrNotFound) {
		t.Errorf("student ResetChild = %v, want not found", err)
	}
	if _, err := w.svc.Children(ctx, w.student); !errors.Is(err, rekey.ErrForbidden) {
		t.Errorf("student Children = %v, want forbidden", err)
	}
	if _, err := w.svc.AddChild(ctx, w.student, sib.Code, "1.1.1.1", "r"); !errors.Is(err, rekey.ErrForbidden) {
		t.Errorf("student AddChild = %v, want forbidden", err)
	}
}

func TestRegisterBadInput(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	code, _ := w.svc.MyCode(ctx, w.student, "r")
	w.store.CreateUser(ctx, rekey.User{ID: "x", DistrictID: "d1", SchoolID: "sc1", Role: rekey.RoleTeacher, Username: "taken",
		Email: "taken@example.org", Status: rekey.StatusActive, Version: 1}, nil)
	for i, test := range []struct {
		name string
		r    Registration
		want string
	}{
		{"forged code", w.reg("ABCD-EFGH-JKMN", "pat", "pat@home.example"), rekey.ECodeInvalidCode},
		{"malformed code", w.reg("=1+1", "pat", "pat@home.example"), rekey.ECodeInvalidCode},
		{"no code", w.reg("", "pat", "pat@home.example"), rekey.ECodeInvalidInput},
		{"no email", w.reg(code.Code, "pat", ""), rekey.ECodeInvalidInput},
		{"bad username", w.reg(code.Code, "<script>", "pat@home.example"), rekey.ECodeInvalidInput},
		{"weak password", func() Registration { r := w.reg(code.Code, "pat", "pat@home.example"); r.Password = "short"; return r }(), rekey.ECodeWeakPassword},
		{"taken username", w.reg(code.Code, "TAKEN", "pat@home.example"), rekey.ECodeUsernameTaken},
		{"taken email", w.reg(code.Code, "pat", "Taken@example.org"), rekey.ECodeEmailTaken},
	} {
		t.Run(test.name, func(t *testing.T) {
			_, err := w.svc.Register(ctx, test.r, "10.0.0."+string(rune('0'+i)), "r")
			if got := rekey.ErrorCode(err); got != test.want {
				t.Errorf("Register = %v (%s), want %s", err, got, test.want)
			}
		})
	}
	// None of the refused registrations used the code or linked anyone.
	if kid := w.get(t, "s1"); kid.ParentCode.Hash == "" || len(kid.Guardians) != 0 {
		t.Errorf("a refused registration changed the student: %+v", kid)
	}
}

func TestRegisterFlood(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	code, _ := w.svc.MyCode(ctx, w.student, "r")
	var tooMany int
	for i := range 8 {
		_, err := w.svc.Register(ctx, w.reg("ABCD-EFGH-JKM"+string("0123456789"[i]), "pat", "pat@home.example"), "6.6.6.6", "r")
		if rekey.ErrorCode(err) == rekey.ECodeTooManyAttempts {
			tooMany++
		}
	}
	if tooMany != 3 {
		t.Errorf("%d of 8 guesses refused as too many, want the 3 beyond the limit of 5", tooMany)
	}
	// Even the right code is refused from that client now, and works from another.
	if _, err := w.svc.Register(ctx, w.reg(code.Code, "pat", "pat@home.example"), "6.6.6.6", "r"); rekey.ErrorCode(err) != rekey.ECodeTooManyAttempts || !strings.Contains(err.Error(), "parent code") {
		t.Errorf("right code from a flooding client = %v, want too_many_attempts about parent codes (not password resets)", err)
	}
	if _, err := w.svc.Register(ctx, w.reg(code.Code, "pat", "pat@home.example"), "7.7.7.7", "r"); err != nil {
		t.Errorf("right code from another client = %v", err)
	}
}

// Two parents racing with one code: exactly one registers.
func TestRegisterRace(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	code, _ := w.svc.MyCode(ctx, w.student, "r")
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := "pat" + string(rune('a'+i))
			_, errs[i] = w.svc.Register(ctx, w.reg(code.Code, name, name+"@home.example"), "ip"+name, "r")
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, rekey.ErrInvalidCode):
			t.Errorf("racing registration: %v", err)
		}
	}
	if ok != 1 || len(w.get(t, "s1").Guardians) != 1 {
		t.Errorf("%d registrations succeeded, student has %v; want exactly one", ok, w.get(t, "s1").Guardians)
	}
}

func TestSchoolCodesCSV(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	evil := rekey.User{ID: "s9", DistrictID: "d1", SchoolID: "sc1", Role: rekey.RoleStudent, FirstName: "=HYPERLINK(\"x\")",
		LastName: "<script>alert(1)</script>", Username: "evil", Grade: "2", ExternalID: "-2+3", Status: rekey.StatusActive, Version: 1}
	rtl := rekey.User{ID: "s8", DistrictID: "d1", SchoolID: "sc1", Role: rekey.RoleStudent, FirstName: "\u202eنور", LastName: "Zoë",
		Username: "noor", Grade: "K", Status: rekey.StatusActive, Version: 1}
	w.store.CreateUser(ctx, evil, nil)
	w.store.CreateUser(ctx, rtl, nil)
	known, _ := w.svc.MyCode(ctx, w.student, "r")
	var b strings.Builder
	if err := w.svc.SchoolCodesCSV(ctx, w.teacher, "sc1", "r", &b); err != nil {
		t.Fatal(err)
	}
	got := b.String()
	for _, want := range []string{
		"externalId,username,firstName,lastName,grade,parentCode\n",
		"'-2+3,evil,\"'=HYPERLINK(\"\"x\"\")\",<script>alert(1)</script>,2,",
		",noor,\u202eنور,Zoë,K,",
		",s1,Fs1,Ls1,1," + known.Code + "\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("CSV lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "far") || strings.Contains(got, "s3") || strings.Contains(got, "t1") {
		t.Errorf("CSV holds someone outside the school's students:\n%s", got)
	}
	// Each listed code is the student's valid code (shown again, not replaced).
	again, _ := w.svc.MyCode(ctx, w.student, "r")
	if again != known {
		t.Errorf("the export replaced a valid code")
	}
	for _, test := range []struct {
		name   string
		actor  rekey.User
		school string
	}{
		{"teacher, other district's school", w.teacher, "sc3"},
		{"teacher, unknown school", w.teacher, "nope"},
		{"student", w.student, "sc1"},
		{"guardian", rekey.User{ID: "g", Role: rekey.RoleGuardian, DistrictID: "d1", Status: rekey.StatusActive}, "sc1"},
	} {
		if err := w.svc.SchoolCodesCSV(ctx, test.actor, test.school, "r", io.Discard); !errors.Is(err, rekey.ErrNotFound) {
			t.Errorf("%s: SchoolCodesCSV = %v, want not found", test.name, err)
		}
	}
}
