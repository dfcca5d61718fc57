// Package seed fills an empty store with a demo district: one district, three
// schools, a district admin, school admins, teachers and about 300 students
// across grades, some of them without email. The local runner and the
// end-to-end tests both use it, so what a newcomer sees in `make dev` is what
// the tests exercise.
package seed

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/rekey/rekey/shared/rekey"
)

// DistrictAdminUsername is the demo district admin's sign-in name.
const DistrictAdminUsername = "district.admin"

// DemoDistrictID is the fixed id of the demo district, so that re-running the
// runner against the same store finds it.
const DemoDistrictID = "demo-district"

type store interface {
	PutDistrict(ctx context.Context, d rekey.District) error
	PutSchool(ctx context.Context, s rekey.School) error
	// SeedUsers writes users and their username and email claims in
	// batches, without the transactions of CreateUser: the demo's names
	// are distinct by construction and it is only seeded into a store
	// without its district.
	SeedUsers(ctx context.Context, users []rekey.User) error
	GetUserByUsername(ctx context.Context, username string) (rekey.User, error)
}

type hasher interface {
	Hash(password string) (string, error)
}

// Options shape the demo district.
type Options struct {
	// Password is given to every demo account.
	Password string
	// StudentsPerSchool defaults to 100.
	StudentsPerSchool int
	// Now stamps the records; defaults to time.Now.
	Now func() time.Time
}

// Summary says what Demo created.
type Summary struct {
	Created  bool // false when the district admin already existed
	District rekey.District
	Schools  []rekey.School
	Users    []rekey.User
}

// Demo seeds the demo district unless its district admin already exists.
func Demo(ctx context.Context, st store, h hasher, opt Options) (Summary, error) {
	if opt.Password == "" {
		return Summary{}, errors.New("seed: a demo password is required")
	}
	if opt.StudentsPerSchool == 0 {
		opt.StudentsPerSchool = 100
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if _, err := st.GetUserByUsername(ctx, DistrictAdminUsername); err == nil {
		return Summary{}, nil
	} else if !errors.Is(err, rekey.ErrNotFound) {
		return Summary{}, fmt.Errorf("seed: look for the demo district admin: %w", err)
	}

	sum := Summary{Created: true, District: rekey.District{ID: DemoDistrictID, Name: "Riverbend Unified School District"}}
	if err := st.PutDistrict(ctx, sum.District); err != nil {
		return Summary{}, fmt.Errorf("seed: put district: %w", err)
	}
	grades := [][]string{{"K", "1", "2", "3", "4", "5"}, {"6", "7", "8"}, {"9", "10", "11", "12"}}
	for i, name := range []string{"Northfield Elementary School", "Lakeview Middle School", "Hillcrest High School"} {
		s := rekey.School{ID: fmt.Sprintf("demo-school-%d", i+1), DistrictID: DemoDistrictID, Name: name}
		if i == 2 {
			// The high school signs in with its own identity provider, so its
			// users see the single sign-on notice instead of a reset link.
			s.SSO, s.SSOURL = true, "https://sso.hillcrest.example/login"
		}
		if err := st.PutSchool(ctx, s); err != nil {
			return Summary{}, fmt.Errorf("seed: put school: %w", err)
		}
		sum.Schools = append(sum.Schools, s)
	}

	now := opt.Now().UTC()
	rng := rand.New(rand.NewPCG(2026, 9)) // fixed: the same district every time
	names := newNamer(rng)
	users := []rekey.User{newUser(now, rekey.RoleDistrictAdmin, "", "Dana", "Okafor", DistrictAdminUsername, "district.admin@riverbend.example", "", "Director of Technology")}
	for i, s := range sum.Schools {
		first, last, username := names.next()
		users = append(users, newUser(now, rekey.RoleSchoolAdmin, s.ID, first, last, username, username+"@riverbend.example", "", "Principal"))
		for t := 0; t < 3+i%2; t++ {
			first, last, username := names.next()
			users = append(users, newUser(now, rekey.RoleTeacher, s.ID, first, last, username, username+"@riverbend.example", "", "Teacher"))
		}
		for n := 0; n < opt.StudentsPerSchool; n++ {
			first, last, username := names.next()
			email := username + "@students.riverbend.example"
			if rng.IntN(7) == 0 {
				email = "" // no email: needs a temporary password or manual notice
			}
			g := grades[i][n%len(grades[i])]
			u := newUser(now, rekey.RoleStudent, s.ID, first, last, username, email, g, "")
			u.ExternalID = fmt.Sprintf("UPN%07d", 1000000+len(users))
			users = append(users, u)
		}
	}
	for i := range users {
		users[i].DistrictID = DemoDistrictID
	}
	if err := hashAll(users, h, opt.Password); err != nil {
		return Summary{}, err
	}
	if err := st.SeedUsers(ctx, users); err != nil {
		return Summary{}, fmt.Errorf("seed: write users: %w", err)
	}
	sum.Users = users
	return sum, nil
}

func newUser(now time.Time, role rekey.Role, schoolID, first, last, username, email, grade, title string) rekey.User {
	return rekey.User{
		ID: rekey.NewID(), SchoolID: schoolID, Role: role, FirstName: first, LastName: last,
		Username: username, Email: email, Grade: grade, Title: title, Status: rekey.StatusActive,
		PasswordChangedAt: now, Version: 1, CreatedAt: now, UpdatedAt: now,
	}
}

// hashAll gives every user their own salted hash of the demo password, using
// every core (argon2id at the default cost takes ~20 ms a hash).
func hashAll(users []rekey.User, h hasher, password string) error {
	var wg sync.WaitGroup
	errs := make([]error, len(users))
	next := make(chan int)
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for i := range next {
				users[i].PasswordHash, errs[i] = h.Hash(password)
			}
		})
	}
	for i := range users {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("seed: hash demo password: %w", err)
	}
	return nil
}

var firstNames = strings.Fields(`Ava Liam Maya Noah Zara Ethan Priya Mateo Chloe Omar Isla Kofi Lena Hugo Aisha Leo
Nora Ravi Sofia Jonah Amara Felix Mei Diego Hana Theo Leila Ezra Yara Samir Ines Caleb Nia Arjun Elsa Tariq Ruby Kai`)

var lastNames = strings.Fields(`Nguyen Smith Patel Garcia Kim Okoye Murphy Rossi Haddad Silva Novak Jensen Ito Mensah
Walsh Costa Ahmed Berg Fischer Moreau Singh Lopez Ivanova Kowalski Tanaka Brennan Osei Duarte Larsen Quinn`)

// namer hands out distinct demo names and usernames.
type namer struct {
	rng  *rand.Rand
	used map[string]int
}

func newNamer(rng *rand.Rand) *namer { return &namer{rng: rng, used: map[string]int{}} }

func (n *namer) next() (first, last, username string) {
	first = firstNames[n.rng.IntN(len(firstNames))]
	last = lastNames[n.rng.IntN(len(lastNames))]
	base := strings.ToLower(first + "." + last)
	n.used[base]++
	username = base
	if k := n.used[base]; k > 1 {
		username = fmt.Sprintf("%s%d", base, k)
	}
	return first, last, username
}
