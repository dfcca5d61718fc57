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
