package roster

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

// memDirectory is a Directory over users and schools in memory, indexed
// as a store would be. It counts its calls and the largest batch.
type memDirectory struct {
	schools    []rekey.School
	users      map[string]*rekey.User // by id
	byUsername map[string]*rekey.User
	byEmail    map[string]*rekey.User
	byExt      map[string]*rekey.User // district + "/" + externalId
	calls      int
	maxKeys    int
}

func newDirectory(schools []rekey.School, users ...rekey.User) *memDirectory {
	d := &memDirectory{schools: schools, users: map[string]*rekey.User{}, byUsername: map[string]*rekey.User{},
		byEmail: map[string]*rekey.User{}, byExt: map[string]*rekey.User{}}
	for _, u := range users {
		d.put(u)
	}
	return d
}

// put stores u, replacing the user of its id, and keeps the indexes.
func (d *memDirectory) put(u rekey.User) {
	if u.ID == "" {
		u.ID = rekey.NewID()
	}
	if u.Version == 0 {
		u.Version = 1
	}
	if old := d.users[u.ID]; old != nil {
		delete(d.byUsername, old.Username)
		delete(d.byEmail, old.Email)
		delete(d.byExt, old.DistrictID+"/"+old.ExternalID)
	}
	d.users[u.ID] = &u
	d.byUsername[u.Username] = &u
	if u.Email != "" {
		d.byEmail[u.Email] = &u
	}
	if u.ExternalID != "" {
		d.byExt[u.DistrictID+"/"+u.ExternalID] = &u
	}
}

func (d *memDirectory) Schools(ctx context.Context, districtID string) ([]rekey.School, error) {
	var out []rekey.School
	for _, s := range d.schools {
		if s.DistrictID == districtID {
			out = append(out, s)
		}
	}
	return out, nil
}

func (d *memDirectory) FindUsers(ctx context.Context, districtID string, keys Keys) ([]rekey.User, error) {
	d.calls++
	d.maxKeys = max(d.maxKeys, len(keys.Usernames))
	seen := map[string]bool{}
	var out []rekey.User
	add := func(u *rekey.User) {
		if u != nil && !seen[u.ID] {
			seen[u.ID] = true
			out = append(out, *u)
		}
	}
	for _, id := range keys.ExternalIDs {
		add(d.byExt[districtID+"/"+id])
	}
	for _, n := range keys.Usernames {
		add(d.byUsername[n])
	}
	for _, e := range keys.Emails {
		add(d.byEmail[e])
	}
	return out, nil
}

// apply writes a plan the way the import task will: schools, then each
// change applied to the user as stored (for a test, without versions).
func (d *memDirectory) apply(t testing.TB, districtID string, res *Result) {
	t.Helper()
	if err := res.Err(); err != nil {
		t.Fatalf("apply a plan with errors: %v (%+v)", err, res.Summary.Errors)
	}
	for _, s := range res.Schools {
		switch s.Kind {
		case KindCreate:
			d.schools = append(d.schools, s.School)
		case KindUpdate:
			for i := range d.schools {
				if d.schools[i].ID == s.School.ID {
					d.schools[i] = s.School
				}
			}
		}
	}
	for _, c := range res.Changes {
		switch c.Kind {
		case KindCreate:
			d.put(c.Apply(rekey.User{DistrictID: districtID}))
		case KindUpdate, KindDisable:
			u := d.users[c.UserID]
			if u.Version != c.Version {
				t.Fatalf("row %d: version %d, planned on %d", c.Row, u.Version, c.Version)
			}
			after := c.Apply(*u)
			after.Version++
			d.put(after)
		}
	}
	// Then the links, both sides, as the import worker writes them.
	byExt := func(ext string) *rekey.User {
		for _, u := range d.users {
			if u.DistrictID == districtID && u.ExternalID == ext {
				return u
			}
		}
		return nil
	}
	for _, c := range res.Changes {
		for _, a := range c.GuardianLinks {
			var self *rekey.User
			if c.UserID != "" {
				self = d.users[c.UserID]
			} else {
				self = byExt(c.Apply(rekey.User{}).ExternalID)
			}
			g, s := self, byExt(a)
			if g == nil || s == nil {
				continue
			}
			if g.Role == rekey.RoleStudent {
				g, s = s, g
			}
			if !slices.Contains(g.GuardianOf, s.ID) {
				g.GuardianOf = append(g.GuardianOf, s.ID)
			}
			if !slices.Contains(s.Guardians, g.ID) {
				s.Guardians = append(s.Guardians, g.ID)
			}
		}
	}
}

const district = "d1"

// The actors of the tests.
var (
	districtAdmin = rekey.User{ID: "da1", DistrictID: district, Role: rekey.RoleDistrictAdmin, Username: "da1", Status: rekey.StatusActive}
	schoolAdmin10 = rekey.User{ID: "sa10", DistrictID: district, SchoolID: "sch10", Role: rekey.RoleSchoolAdmin, Username: "sa10", Status: rekey.StatusActive}
	teacher10     = rekey.User{ID: "t10", DistrictID: district, SchoolID: "sch10", Role: rekey.RoleTeacher, Username: "t10", Status: rekey.StatusActive}
)

// maplewood returns the files of testdata/maplewood-bundle, name then
// content, with edit applied to each content.
func maplewood(t testing.TB, edit func(name, content string) string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "maplewood-bundle", "*.csv"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("testdata bundle: %v", err)
	}
	var files []string
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		name, content := filepath.Base(p), string(b)
		if edit != nil {
			content = edit(name, content)
		}
		files = append(files, name, content)
	}
	return files
}

func readZip(t testing.TB, data []byte, limits Limits) *File {
	t.Helper()
	f, err := ReadBundle(bytes.NewReader(data), int64(len(data)), limits)
	if err != nil {
		t.Fatalf("ReadBundle: %v", err)
	}
	return f
}

// replaceLine edits content (CRLF lines) where a line starts with prefix.
func replaceLine(content, prefix, line string) string {
	lines := strings.Split(content, "\r\n")
	for i, l := range lines {
		if strings.HasPrefix(l, prefix) {
			lines[i] = line
		}
	}
	return strings.Join(lines, "\r\n")
}
