package roster

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rekey/rekey/shared/authz"
	"github.com/rekey/rekey/shared/rekey"
)

// Directory is what Plan needs to know of Rekey's side: the district's
// schools, and the existing users a batch of rows could be. Stores
// implement it; a dry run and an apply use the same one.
type Directory interface {
	// Schools returns every school of the district.
	Schools(ctx context.Context, districtID string) ([]rekey.School, error)
	// FindUsers returns the users of districtID whose externalId is one
	// of keys.ExternalIDs, and the users of any district whose username
	// or email is one of keys.Usernames or keys.Emails (usernames and
	// emails are unique across Rekey). Plan asks for at most BatchSize
	// rows' keys at a time; order and repeats do not matter.
	FindUsers(ctx context.Context, districtID string, keys Keys) ([]rekey.User, error)
}

// Keys are the values Plan looks existing users up by: lower-cased
// usernames and emails, external ids as given.
type Keys struct {
	ExternalIDs []string
	Usernames   []string
	Emails      []string
}

// BatchSize is how many rows Plan looks up at a time: the DynamoDB store
// reads a lookup's keys in BatchGetItems of 100 that run at once, so a
// thousand rows' three thousand claims cost a few round trips where ten
// lookups of 100 rows cost ten times more, and a dry run of 50,000 rows
// must end within the HTTP API's 29 s. A thousand rows and their users
// are a few hundred KB held at a time.
const BatchSize = 1000

// Kind is what an import does to one row's user.
type Kind string

// The kinds of change.
const (
	KindCreate    Kind = "create"
	KindUpdate    Kind = "update"
	KindDisable   Kind = "disable" // an update that disables the account
	KindUnchanged Kind = "unchanged"
)

// The fields a change sets, by their API names.
const (
	FieldFirstName  = "firstName"
	FieldLastName   = "lastName"
	FieldUsername   = "username"
	FieldEmail      = "email"
	FieldGrade      = "grade"
	FieldTitle      = "title"
	FieldExternalID = "externalId"
	FieldRole       = "role"
	FieldSchoolID   = "schoolId"
	FieldStatus     = "status"
	FieldName       = "name" // a school's
)

// FieldChange is one field's value before and after ("" before for a new
// user), as the preview and the audit entry show it.
type FieldChange struct {
	Field  string `json:"field"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// Change is what the import does for one row. A create lists every field
// it sets; an update or disable lists the fields that change, to be
// applied to the stored user only while its version is still Version.
type Change struct {
	Kind    Kind          `json:"kind"`
	File    string        `json:"file"`
	Row     int           `json:"row"`
	UserID  string        `json:"userId,omitempty"`
	Version int           `json:"version,omitempty"`
	Fields  []FieldChange `json:"fields,omitempty"`
	// GuardianLinks are the row's agentSourcedIds: the externalIds of a
	// guardian's students, or of a student's guardians. They are kept
	// for the guardian role (issue 10) and not otherwise applied.
	GuardianLinks []string `json:"guardianLinks,omitempty"`
}

// Apply returns u with the change's fields set: the stored user for an
// update, or a zero user (with DistrictID set) for a create.
func (c Change) Apply(u rekey.User) rekey.User {
	for _, f := range c.Fields {
		switch f.Field {
		case FieldFirstName:
			u.FirstName = f.After
		case FieldLastName:
			u.LastName = f.After
		case FieldUsername:
			u.Username = f.After
		case FieldEmail:
			u.Email = f.After
		case FieldGrade:
			u.Grade = f.After
		case FieldTitle:
			u.Title = f.After
		case FieldExternalID:
			u.ExternalID = f.After
		case FieldRole:
			u.Role = rekey.Role(f.After)
		case FieldSchoolID:
			u.SchoolID = f.After
		case FieldStatus:
			u.Status = rekey.Status(f.After)
		}
	}
	return u
}

// SchoolChange is a school the import creates (with a new id that the
// rows' changes already refer to) or updates (its externalId or name).
type SchoolChange struct {
	Kind   Kind          `json:"kind"`
	Row    int           `json:"row"`
	School rekey.School  `json:"school"`
	Fields []FieldChange `json:"fields,omitempty"`
}

// Summary is the dry-run answer of POST /api/imports?dryRun=true.
type Summary struct {
	Create    int     `json:"create"`
	Update    int     `json:"update"`
	Unchanged int     `json:"unchanged"`
	Disable   int     `json:"disable"`
	Errors    []Issue `json:"errors"`
	// ErrorCount counts every error when there are more than Errors lists.
	ErrorCount     int      `json:"errorCount"`
	IgnoredFiles   []string `json:"ignoredFiles"`
	IgnoredColumns []Column `json:"ignoredColumns"`
	SchoolsCreate  int      `json:"schoolsCreate"`
	SchoolsUpdate  int      `json:"schoolsUpdate"`
}

// Result is a plan: its summary, and the changes to apply when it has no
// errors — schools first, then users in file order.
type Result struct {
	Summary Summary
	Schools []SchoolChange
	Changes []Change
}

// Err is nil for a plan without errors, or the *InvalidError (an
// import_invalid application error) that refuses the file whole.
func (r *Result) Err() error {
	if r.Summary.ErrorCount == 0 {
		return nil
	}
	return &InvalidError{Issues: r.Summary.Errors, Count: r.Summary.ErrorCount}
}

// Plan decides what importing f on behalf of actor would do. It writes
// nothing: it reads schools and users through dir. Only active district
// and school admins may import (rekey.ErrForbidden otherwise); each row is
// then judged by the permission matrix as if the actor made the change by
// hand. Problems of rows are in the Summary's errors; the error is for
// the forbidden actor and failures of dir.
func Plan(ctx context.Context, f *File, dir Directory, actor rekey.User) (*Result, error) {
	return planFile(ctx, f, dir, actor, true)
}

// Summarize is Plan without Result.Changes: the dry run and the start of
// an import need only the counts, the errors and the schools, and a
// change per row (its fields before and after) is most of a plan's
// memory; the worker plans each chunk's changes again anyway.
func Summarize(ctx context.Context, f *File, dir Directory, actor rekey.User) (*Result, error) {
	return planFile(ctx, f, dir, actor, false)
}

// SummarizeRows is Summarize for a file that is read twice instead of
// held: read reads it and gives each row that passes the checks of a
// single row to each (ReadBundleRows, ReadUsersCSVRows), in file order,
// the same rows each time. The first reading keeps of each row only its
// externalId's fingerprint and role (for the links' checks); the second
// is planned BatchSize rows at a time as it comes. The issues are the
// first reading's and the plan's, as Summarize's are.
func SummarizeRows(ctx context.Context, read func(each func(Row)) (*File, error), dir Directory, actor rekey.User) (*Result, error) {
	if !canImport(actor) {
		return nil, rekey.ErrForbidden
	}
	roles := newFileRoles()
	f, err := read(roles.add)
	if err != nil {
		return nil, err
	}
	return planRows(ctx, f, dir, actor, false, roles, func(batch func([]Row) error) error {
		rows := make([]Row, 0, BatchSize)
		var failed error
		_, err := read(func(r Row) {
			if failed != nil {
				return
			}
			if rows = append(rows, r); len(rows) == BatchSize {
				failed, rows = batch(rows), rows[:0]
			}
		})
		switch {
		case err != nil:
			return err
		case failed != nil:
			return failed
		case len(rows) > 0:
			return batch(rows)
		}
		return nil
	})
}

func planFile(ctx context.Context, f *File, dir Directory, actor rekey.User, keep bool) (*Result, error) {
	roles := newFileRoles()
	for _, r := range f.Rows {
		roles.add(r)
	}
	return planRows(ctx, f, dir, actor, keep, roles, func(batch func([]Row) error) error {
		for from := 0; from < len(f.Rows); from += BatchSize {
			if err := batch(f.Rows[from:min(from+BatchSize, len(f.Rows))]); err != nil {
				return err
			}
		}
		return nil
	})
}

// planRows plans the rows that rows gives its batch function, in file order;
// roles are those of every row of the file.
func planRows(ctx context.Context, f *File, dir Directory, actor rekey.User, keep bool, roles *fileRoles, rows func(batch func([]Row) error) error) (*Result, error) {
	if !canImport(actor) {
		return nil, rekey.ErrForbidden
	}
	limits := f.limits.withDefaults()
	is := &issues{max: limits.MaxIssues, list: append([]Issue(nil), f.Issues...), count: f.IssueCount}
	res := &Result{Summary: Summary{IgnoredFiles: f.IgnoredFiles, IgnoredColumns: f.IgnoredColumns}}
	if res.Summary.IgnoredFiles == nil {
		res.Summary.IgnoredFiles = []string{}
	}
	if res.Summary.IgnoredColumns == nil {
		res.Summary.IgnoredColumns = []Column{}
	}
	if !f.Fatal {
		schools, err := dir.Schools(ctx, actor.DistrictID)
		if err != nil {
			return nil, fmt.Errorf("roster: plan: schools: %w", err)
		}
		p := newPlanner(f, actor, schools, is, res, roles)
		p.keep = keep
		p.resolveOrgs()
		if err := rows(func(batch []Row) error { return p.planBatch(ctx, dir, batch) }); err != nil {
			return nil, err
		}
	}
	res.Summary.Errors, res.Summary.ErrorCount = is.list, is.count
	if res.Summary.Errors == nil {
		res.Summary.Errors = []Issue{}
	}
	for _, s := range res.Schools {
		switch s.Kind {
		case KindCreate:
			res.Summary.SchoolsCreate++
		case KindUpdate:
			res.Summary.SchoolsUpdate++
		}
	}
	return res, nil
}

// canImport: active district and school admins with a consistent record.
func canImport(actor rekey.User) bool {
	if actor.Role != rekey.RoleDistrictAdmin && actor.Role != rekey.RoleSchoolAdmin {
		return false
	}
	// Viewing oneself is allowed to every actor the matrix lets act at all.
	return authz.Allowed(actor, actor, authz.ActionView)
}

// place is where an org puts its users.
type place struct {
	schoolID string // a school of the district (existing or created by this plan)
	district bool   // the district org
	other    string // a school the actor may not import for: its name
}

type planner struct {
	f      *File
	actor  rekey.User
	is     *issues
	res    *Result
	byID   map[string]rekey.School
	byExt  map[string]rekey.School
	byName map[string][]rekey.School // lower-cased name
	orgs   map[string]place          // OneRoster org sourcedId → place
	// fileIDs are the rows' externalIds with their roles, for agent links.
	fileIDs *fileRoles
	// matched is the row each existing user was matched by, by the
	// fingerprint of the user's id.
	matched map[uint64]int
	matchFP fingerprint
	// keep: Result.Changes is wanted (Plan), not only counts (Summarize).
	keep bool
}

func newPlanner(f *File, actor rekey.User, schools []rekey.School, is *issues, res *Result, roles *fileRoles) *planner {
	p := &planner{f: f, actor: actor, is: is, res: res, byID: map[string]rekey.School{}, byExt: map[string]rekey.School{},
		byName: map[string][]rekey.School{}, orgs: map[string]place{}, fileIDs: roles, matched: map[uint64]int{}, matchFP: newFingerprint()}
	for _, s := range schools {
		if s.DistrictID != actor.DistrictID {
			continue
		}
		p.byID[s.ID] = s
		if s.ExternalID != "" {
			p.byExt[s.ExternalID] = s
		}
		key := strings.ToLower(s.Name)
		p.byName[key] = append(p.byName[key], s)
	}
	return p
}

func (p *planner) districtAdmin() bool { return p.actor.Role == rekey.RoleDistrictAdmin }

// resolveOrgs places each org of a bundle: schools matched by sourcedId,
// then by name among schools without one; new schools are created by
// district admins and are out of reach for school admins.
func (p *planner) resolveOrgs() {
	for _, o := range p.f.Orgs {
		switch o.Type {
		case "district":
			p.orgs[o.SourcedID] = place{district: true}
		case "school":
			p.orgs[o.SourcedID] = p.resolveSchool(o)
		}
	}
	for _, o := range p.f.Orgs {
		if o.Type == "department" {
			if parent, ok := p.orgs[o.ParentID]; ok && !parent.district {
				p.orgs[o.SourcedID] = parent
			} else {
				p.orgs[o.SourcedID] = place{}
			}
		}
		if _, ok := p.orgs[o.SourcedID]; !ok {
			p.orgs[o.SourcedID] = place{} // local, state, national: no school
		}
	}
}

func (p *planner) resolveSchool(o Org) place {
	s, found := p.byExt[o.SourcedID]
	if !found {
		for _, candidate := range p.byName[strings.ToLower(o.Name)] {
			if candidate.ExternalID == "" {
				s, found = candidate, true
				break
			}
		}
	}
	if !p.districtAdmin() {
		if !found || s.ID != p.actor.SchoolID {
			return place{other: o.Name}
		}
		return place{schoolID: s.ID}
	}
	if !found {
		s = rekey.School{ID: rekey.NewID(), DistrictID: p.actor.DistrictID, Name: o.Name, ExternalID: o.SourcedID}
		p.res.Schools = append(p.res.Schools, SchoolChange{Kind: KindCreate, Row: o.Row, School: s,
			Fields: []FieldChange{{FieldName, "", s.Name}, {FieldExternalID, "", s.ExternalID}}})
		// Later orgs of the same name must not match the new school again.
		p.byExt[s.ExternalID] = s
		return place{schoolID: s.ID}
	}
	var fields []FieldChange
	if s.ExternalID != o.SourcedID {
		fields = append(fields, FieldChange{FieldExternalID, s.ExternalID, o.SourcedID})
		s.ExternalID = o.SourcedID
		p.byExt[s.ExternalID] = s
	}
	if s.Name != o.Name {
		fields = append(fields, FieldChange{FieldName, s.Name, o.Name})
		s.Name = o.Name
	}
	kind := KindUnchanged
	if len(fields) > 0 {
		kind = KindUpdate
	}
	p.res.Schools = append(p.res.Schools, SchoolChange{Kind: kind, Row: o.Row, School: s, Fields: fields})
	return place{schoolID: s.ID}
}

// existing indexes the users one batch's lookup returned.
type existing struct {
	byExt, byUsername, byEmail map[string]*rekey.User
}

func (p *planner) planBatch(ctx context.Context, dir Directory, rows []Row) error {
	var keys Keys
	for _, r := range rows {
		if r.ExternalID != "" {
			keys.ExternalIDs = append(keys.ExternalIDs, r.ExternalID)
		}
		// Every partner is looked up, those of the file too: a link
		// to a user that exists is new or not.
		keys.ExternalIDs = append(keys.ExternalIDs, r.AgentIDs...)
		keys.Usernames = append(keys.Usernames, r.Username)
		if r.Email != "" {
			keys.Emails = append(keys.Emails, r.Email)
		}
	}
	found, err := dir.FindUsers(ctx, p.actor.DistrictID, keys)
	if err != nil {
		return fmt.Errorf("roster: plan: find users: %w", err)
	}
	ex := existing{byExt: map[string]*rekey.User{}, byUsername: map[string]*rekey.User{}, byEmail: map[string]*rekey.User{}}
	for i := range found {
		u := &found[i]
		if u.ExternalID != "" && u.DistrictID == p.actor.DistrictID {
			ex.byExt[u.ExternalID] = u
		}
		ex.byUsername[strings.ToLower(u.Username)] = u
		if u.Email != "" {
			ex.byEmail[strings.ToLower(u.Email)] = u
		}
	}
	for _, r := range rows {
		c := rowChecker{file: r.File, row: r.Row, is: p.is, ok: true}
		change := p.planRow(&c, r, ex)
		if !c.ok {
			continue
		}
		switch change.Kind {
		case KindCreate:
			p.res.Summary.Create++
		case KindUpdate:
			p.res.Summary.Update++
		case KindDisable:
			p.res.Summary.Disable++
		case KindUnchanged:
			p.res.Summary.Unchanged++
		}
		if p.keep {
			p.res.Changes = append(p.res.Changes, change)
		}
	}
	return nil
}

// column is the file's name for a user field, for issues.
func (p *planner) column(field string) string {
	if p.f.Format == FormatOneRoster {
		switch field {
		case FieldFirstName:
			return "givenName"
		case FieldLastName:
			return "familyName"
		case FieldExternalID:
			return "sourcedId"
		case FieldSchoolID, "districtId":
			return "orgSourcedIds"
		case FieldGrade:
			return "grades"
		case FieldStatus:
			return "enabledUser"
		}
		return field
	}
	switch field {
	case FieldSchoolID, "districtId":
		return "school"
	}
	return field
}

// planRow decides one row; c.ok is false when it has errors.
func (p *planner) planRow(c *rowChecker, r Row, ex existing) Change {
	change := Change{File: r.File, Row: r.Row, GuardianLinks: r.AgentIDs}
	before := p.match(c, r, ex)
	p.checkLinks(c, r, ex)
	role, schoolID, placed := p.place(c, r, before)
	if !c.ok {
		return change
	}
	if before == nil {
		return p.planCreate(c, r, change, role, schoolID, placed)
	}
	change.UserID, change.Version = before.ID, before.Version
	if !authz.Allowed(p.actor, *before, authz.ActionView) && !p.guardianInScope(*before) {
		c.fail(p.column(FieldUsername), CodeOutOfScope, "%s is not a user of your school; you may import only your school's rows.", before.Username)
		return change
	}
	after := *before
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&after.FirstName, r.FirstName)
	set(&after.LastName, r.LastName)
	set(&after.Username, r.Username)
	set(&after.Email, r.Email)
	set(&after.Title, r.Title)
	set(&after.ExternalID, r.ExternalID)
	if r.Grade != "" && (role == rekey.RoleStudent || role == "" && before.Role == rekey.RoleStudent) {
		after.Grade = r.Grade
	}
	if role != "" {
		after.Role = role
	}
	if placed {
		after.SchoolID = schoolID
	}
	switch {
	case r.Status == rekey.StatusDisabled:
		after.Status = rekey.StatusDisabled
	case r.Status == rekey.StatusActive && before.Status == rekey.StatusDisabled:
		after.Status = rekey.StatusActive
	}
	change.Fields = userDiff(*before, after)
	if len(change.Fields) == 0 && !p.newLinks(r, *before, ex) {
		change.Kind = KindUnchanged
		return change
	}
	p.check(c, *before, after)
	change.Kind = KindUpdate
	if after.Status == rekey.StatusDisabled && before.Status != rekey.StatusDisabled {
		change.Kind = KindDisable
	}
	return change
}

// match finds the existing user a row is: by externalId in the district,
// then by username. It fails the row for a username or email another user
// holds, and for a user an earlier row already matched.
func (p *planner) match(c *rowChecker, r Row, ex existing) *rekey.User {
	var before *rekey.User
	if r.ExternalID != "" {
		before = ex.byExt[r.ExternalID]
	}
	if holder := ex.byUsername[r.Username]; holder != nil && (before == nil || holder.ID != before.ID) {
		switch {
		case holder.DistrictID != p.actor.DistrictID:
			c.fail(p.column(FieldUsername), CodeUsernameTaken, "The username %s is already used in another district; choose another.", r.Username)
		case before != nil:
			c.fail(p.column(FieldUsername), CodeUsernameTaken, "The username %s belongs to another user of your district.", r.Username)
		case r.ExternalID != "" && holder.ExternalID != "" && holder.ExternalID != r.ExternalID:
			c.fail(p.column(FieldUsername), CodeUsernameTaken, "The username %s belongs to another user of your district (externalId %s).", r.Username, holder.ExternalID)
		default:
			before = holder
		}
	}
	if r.Email != "" && (before == nil || r.Email != before.Email) {
		if holder := ex.byEmail[r.Email]; holder != nil && (before == nil || holder.ID != before.ID) {
			c.fail(p.column(FieldEmail), CodeEmailTaken, "The email address %s belongs to another user.", r.Email)
		}
	}
	if before != nil {
		id := p.matchFP.of(before.ID)
		if first, dup := p.matched[id]; dup {
			c.fail(p.column(FieldUsername), CodeSameUser, "This row and row %d are the same user (%s).", first, before.Username)
			return nil
		}
		p.matched[id] = r.Row
	}
	return before
}

// checkLinks fails a row whose agentSourcedIds name nobody, or someone
// who cannot be its partner: a guardian links to students, a student to
// guardians (the file's role of a partner in the file, else the stored
// one).
func (p *planner) checkLinks(c *rowChecker, r Row, ex existing) {
	role := r.Role
	for _, a := range r.AgentIDs {
		partner, inFile := p.fileIDs.role(a)
		if !inFile {
			u := ex.byExt[a]
			if u == nil {
				c.fail("agentSourcedIds", CodeUnknownAgent, "The agentSourcedId %s is nobody in users.csv or in your district.", a)
				continue
			}
			partner = u.Role
		}
		switch {
		case role == RoleGuardian && partner != rekey.RoleStudent:
			c.fail("agentSourcedIds", CodeInvalidLink, "The agentSourcedId %s is a %s; a guardian is linked to students only.", a, roleWord(partner))
		case role == rekey.RoleStudent && partner != RoleGuardian:
			c.fail("agentSourcedIds", CodeInvalidLink, "The agentSourcedId %s is a %s; a student is linked to guardians only.", a, roleWord(partner))
		}
	}
}

// newLinks reports whether importing r links before to a partner it is
// not linked to yet (a partner still to be created counts): a row whose
// fields are unchanged is then an update, not unchanged.
func (p *planner) newLinks(r Row, before rekey.User, ex existing) bool {
	for _, a := range r.AgentIDs {
		partner := ex.byExt[a]
		if partner == nil {
			return true
		}
		if !slices.Contains(before.GuardianOf, partner.ID) && !slices.Contains(before.Guardians, partner.ID) {
			return true
		}
	}
	return false
}

// place decides a row's role and school. placed is false when the row
// says nothing of the school (a users CSV without one).
func (p *planner) place(c *rowChecker, r Row, before *rekey.User) (role rekey.Role, schoolID string, placed bool) {
	role = r.Role
	if p.f.Format == FormatUsersCSV {
		if r.School == "" {
			return role, "", false
		}
		if s, ok := p.byID[r.School]; ok {
			return role, s.ID, true
		}
		if named := p.byName[strings.ToLower(r.School)]; len(named) == 1 {
			return role, named[0].ID, true
		} else if len(named) > 1 {
			c.fail("school", CodeUnknownSchool, "Several schools are named %s; give the school's id instead.", r.School)
			return role, "", false
		}
		c.fail("school", CodeUnknownSchool, "No school of your district has the id or name %q.", r.School)
		return role, "", false
	}
	district, other := false, ""
	for _, id := range r.OrgIDs {
		pl, ok := p.orgs[id]
		if !ok {
			if s, known := p.byExt[id]; known {
				pl = place{schoolID: s.ID}
				if !p.districtAdmin() && s.ID != p.actor.SchoolID {
					pl = place{other: s.Name}
				}
			} else {
				c.fail("orgSourcedIds", CodeUnknownOrg, "The org %s is neither in orgs.csv nor a school of your district.", id)
				continue
			}
		}
		switch {
		case pl.schoolID != "" && schoolID == "":
			schoolID = pl.schoolID
		case pl.other != "" && other == "":
			other = pl.other
		case pl.district:
			district = true
		}
	}
	if !c.ok {
		return "", "", false
	}
	if r.administrator && schoolID == "" && other == "" && district {
		role = rekey.RoleDistrictAdmin
	}
	switch {
	case role == rekey.RoleDistrictAdmin:
		return role, "", true
	case schoolID == "" && other != "":
		c.fail("orgSourcedIds", CodeOutOfScope, "This user belongs to %s, not your school; you may import only your school's rows.", other)
	case schoolID == "" && role != RoleGuardian:
		c.fail("orgSourcedIds", CodeMissingValue, "A %s needs a school among its orgSourcedIds.", roleWord(role))
	}
	return role, schoolID, true
}

// planCreate plans a new user.
func (p *planner) planCreate(c *rowChecker, r Row, change Change, role rekey.Role, schoolID string, placed bool) Change {
	if r.Deleted {
		// status=tobedeleted for someone Rekey never had: nothing to do.
		change.Kind = KindUnchanged
		return change
	}
	if r.FirstName == "" {
		c.fail(p.column(FieldFirstName), CodeMissingValue, "A new user needs a first name.")
	}
	if r.LastName == "" {
		c.fail(p.column(FieldLastName), CodeMissingValue, "A new user needs a last name.")
	}
	if role == "" {
		c.fail(p.column(FieldRole), CodeMissingValue, "A new user needs a role.")
	}
	if !placed && role.SchoolScoped() && !p.districtAdmin() {
		schoolID = p.actor.SchoolID // a school admin's rows are for their school
	}
	if !c.ok {
		return change
	}
	status := r.Status
	if status == "" {
		status = rekey.StatusActive
	}
	grade := ""
	if role == rekey.RoleStudent {
		grade = r.Grade
	}
	u := rekey.User{DistrictID: p.actor.DistrictID, SchoolID: schoolID, Role: role, FirstName: r.FirstName,
		LastName: r.LastName, Username: r.Username, Email: r.Email, Grade: grade, Title: r.Title,
		ExternalID: r.ExternalID, Status: status}
	p.check(c, u, u)
	change.Kind = KindCreate
	change.Fields = userDiff(rekey.User{}, u)
	return change
}

// check judges a change by the permission matrix (a create as an edit
// that changes nothing of the new user) and guardians by scope.
func (p *planner) check(c *rowChecker, before, after rekey.User) {
	if before.Role == RoleGuardian || after.Role == RoleGuardian {
		switch {
		case before.Role != after.Role:
			c.fail(p.column(FieldRole), CodeForbidden, "Rekey cannot change a user to or from guardian.")
		case !p.guardianInScope(before) || !p.guardianInScope(after):
			c.fail(p.column(FieldSchoolID), CodeOutOfScope, "This guardian is not of your school; you may import only your school's rows.")
		default:
			if e, ok := authz.CheckGuardianCredentials(p.actor, before, after).(*rekey.Error); ok && e != nil {
				c.fail(p.column(e.Field), CodeForbidden, "%s", e.Message)
			}
		}
		return
	}
	err := authz.CheckUpdate(p.actor, before, after)
	if err == nil {
		return
	}
	if after.Role.Rank() > p.actor.Role.Rank() {
		c.fail(p.column(FieldRole), CodeForbidden, "You may not import a %s: the role is above yours.", roleWord(after.Role))
		return
	}
	if !authz.Allowed(p.actor, before, authz.ActionView) {
		c.fail(p.column(FieldSchoolID), CodeOutOfScope, "This row is for another school; you may import only your school's rows.")
		return
	}
	e, _ := err.(*rekey.Error)
	if e == nil {
		c.fail("", CodeForbidden, "%s", rekey.ErrorMessage(err))
		return
	}
	code := CodeForbidden
	if e.Code == rekey.ECodeInvalidInput {
		code = CodeInvalidValue
	}
	c.fail(p.column(e.Field), code, "%s", e.Message)
}

// guardianInScope: district admins import every guardian; school admins
// those of their school.
func (p *planner) guardianInScope(u rekey.User) bool {
	return u.Role == RoleGuardian && (p.districtAdmin() || u.SchoolID == p.actor.SchoolID)
}

// userDiff lists the fields that differ between before and after.
func userDiff(before, after rekey.User) []FieldChange {
	var out []FieldChange
	add := func(field, b, a string) {
		if b != a {
			out = append(out, FieldChange{Field: field, Before: b, After: a})
		}
	}
	add(FieldFirstName, before.FirstName, after.FirstName)
	add(FieldLastName, before.LastName, after.LastName)
	add(FieldUsername, before.Username, after.Username)
	add(FieldEmail, before.Email, after.Email)
	add(FieldRole, string(before.Role), string(after.Role))
	add(FieldSchoolID, before.SchoolID, after.SchoolID)
	add(FieldGrade, before.Grade, after.Grade)
	add(FieldTitle, before.Title, after.Title)
	add(FieldExternalID, before.ExternalID, after.ExternalID)
	add(FieldStatus, string(before.Status), string(after.Status))
	return out
}

// roleWord is a role as people say it, for messages.
func roleWord(r rekey.Role) string {
	switch r {
	case rekey.RoleSchoolAdmin:
		return "school admin"
	case rekey.RoleDistrictAdmin:
		return "district admin"
	case "":
		return "user"
	}
	return string(r)
}
