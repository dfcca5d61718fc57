package devstack

import (
	"slices"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/roster/rostertest"
)

// guardianRoster is a OneRoster bundle of two students and the guardian of
// both; one student also names the guardian (a link may be on both sides).
func guardianRoster(t *testing.T) []byte {
	t.Helper()
	return rostertest.Zip(t,
		"manifest.csv", "propertyName,value\nmanifest.version,1.0\noneroster.version,1.1\nfile.orgs,bulk\nfile.users,bulk\n",
		"orgs.csv", "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\norg-n,,,Northfield Elementary School,school,,\n",
		"users.csv", "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"+
			"kid-1,,,true,org-n,student,gk.one,,Kid,One,,,,,,,03,\n"+
			"par-1,,,true,org-n,parent,gp.parent,,Pat,Parent,,,pat.parent@home.example.net,,,\"kid-1,kid-2\",,\n"+
			"kid-2,,,true,org-n,student,gk.two,,Kid,Two,,,,,,par-1,04,\n")
}

func TestImportGuardiansEndToEnd(t *testing.T) {
	s := startStack(t)
	admin := signIn(t, s, "district.admin")
	body := guardianRoster(t)
	status, dry := postFile(t, admin, "/api/imports?dryRun=true", "application/zip", body)
	if status != 200 || dry.Create != 3 || len(dry.Summary.Errors) != 0 {
		t.Fatalf("dry run = %d %+v, want 3 creates", status, dry)
	}
	_, started := postFile(t, admin, "/api/imports", "application/zip", body)
	task, results := waitForImport(t, admin, started.TaskID)
	if task.Succeeded != 3 || len(results) != 3 {
		t.Fatalf("import = %+v %+v, want 3 created", task, results)
	}
	get := func(username string) rekey.User {
		t.Helper()
		u, found := userByName(t, admin, username)
		if !found {
			t.Fatalf("%s not imported", username)
		}
		var full rekey.User
		if status, e := admin.do("GET", "/api/users/"+u.ID, nil, &full); status != 200 {
			t.Fatalf("GET user %s = %d %+v", username, status, e)
		}
		return full
	}
	parent, one, two := get("gp.parent"), get("gk.one"), get("gk.two")
	if parent.Role != rekey.RoleGuardian || !slices.Contains(parent.GuardianOf, one.ID) || !slices.Contains(parent.GuardianOf, two.ID) ||
		len(parent.GuardianOf) != 2 || !slices.Equal(one.Guardians, []string{parent.ID}) || !slices.Equal(two.Guardians, []string{parent.ID}) {
		t.Errorf("parent %s %v, kids' guardians %v %v; want linked both sides once", parent.Role, parent.GuardianOf, one.Guardians, two.Guardians)
	}

	// The same file again: all unchanged.
	status, dry = postFile(t, admin, "/api/imports?dryRun=true", "application/zip", body)
	if status != 200 || dry.Unchanged != 3 || dry.Create+dry.Update != 0 {
		t.Errorf("dry run again = %d %+v, want 3 unchanged", status, dry)
	}
	_, again := postFile(t, admin, "/api/imports", "application/zip", body)
	if task, results = waitForImport(t, admin, again.TaskID); task.Skipped != 3 || task.Succeeded != 0 {
		t.Errorf("re-import = %+v %+v, want 3 unchanged", task, results)
	}
	if after := get("gp.parent"); after.Version != parent.Version {
		t.Errorf("re-import wrote the guardian: version %d → %d", parent.Version, after.Version)
	}
}

// TestSchoolAdminCannotTakeOverLinkedGuardianEndToEnd is the attack over
// HTTP (SECURITY.md 21): a parent whose home school is demo-school-1 has a
// child there and one at demo-school-2. The admin of demo-school-1 must not
// take over the parent's account — a temporary password, or the parent's
// email pointed at their own mailbox — since the parent resets the
// demo-school-2 child; the district admin may.
func TestSchoolAdminCannotTakeOverLinkedGuardianEndToEnd(t *testing.T) {
	s := startStack(t)
	district := signIn(t, s, "district.admin")
	head := signIn(t, s, demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleSchoolAdmin && u.SchoolID == "demo-school-1" }).Username)
	here := demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleStudent && u.SchoolID == "demo-school-1" })
	there := demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleStudent && u.SchoolID == "demo-school-2" })

	parentCSV := "username,firstName,lastName,role,school,email\npat.sibling,Pat,Sibling,guardian,demo-school-1,pat.sibling@home.example.net\n"
	if status, got := postFile(t, district, "/api/imports", "text/csv", []byte(parentCSV)); status != 202 {
		t.Fatalf("import of the parent = %d %+v", status, got)
	} else if task, results := waitForImport(t, district, got.TaskID); task.Succeeded != 1 {
		t.Fatalf("import of the parent = %+v %+v", task, results)
	}
	parent, found := userByName(t, district, "pat.sibling")
	if !found || parent.SchoolID != "demo-school-1" {
		t.Fatalf("parent = %+v, %v; want a guardian of demo-school-1", parent, found)
	}
	patchUser(t, district, parent.ID, map[string]any{"guardianOf": []string{here.ID, there.ID}})
	if status, _ := head.do("GET", "/api/users/"+there.ID, nil, nil); status != 404 {
		t.Fatalf("the school admin reads the demo-school-2 child: %d, want 404", status)
	}

	if status, e := head.do("POST", "/api/users/"+parent.ID+"/password-reset", map[string]any{"mode": "temporary"}, nil); status != 403 {
		t.Errorf("school admin's temporary password for the linked parent = %d %+v, want 403", status, e)
	}
	var p rekey.User
	head.do("GET", "/api/users/"+parent.ID, nil, &p)
	if status, e := head.do("PATCH", "/api/users/"+parent.ID, map[string]any{"email": "head@attacker.example", "version": p.Version}, nil); status != 403 {
		t.Errorf("school admin pointing the parent's email elsewhere = %d %+v, want 403", status, e)
	}
	var started struct{ TaskID string }
	status, e := head.do("POST", "/api/bulk-resets", map[string]any{
		"selection": map[string]any{"mode": "selected", "userIds": []string{parent.ID, here.ID}},
		"delivery":  map[string]any{"mode": "generated_passwords"},
	}, &started)
	if status != 202 {
		t.Fatalf("school admin's bulk reset = %d %+v, want 202 (the parent fails alone)", status, e)
	}
	if task := waitForTask(t, head, started.TaskID); task.Succeeded != 1 || task.Failed != 1 {
		t.Errorf("school admin's bulk reset of the parent and a pupil = %+v, want the pupil only (1 succeeded, 1 failed)", task)
	}
	if after, _ := userByName(t, district, "pat.sibling"); after.Email != "pat.sibling@home.example.net" {
		t.Errorf("parent's email = %q after the refused edit", after.Email)
	}
	var out struct{ TemporaryPassword string }
	if status, e := district.do("POST", "/api/users/"+parent.ID+"/password-reset", map[string]any{"mode": "temporary"}, &out); status != 200 || out.TemporaryPassword == "" {
		t.Errorf("district admin's temporary password for the parent = %d %+v, want 200", status, e)
	}
}
