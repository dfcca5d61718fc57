package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rekey/rekey/infra/testwait"
	"github.com/rekey/rekey/shared/rekey"
	"github.com/rekey/rekey/shared/roster"
)

// importAnswer is every shape POST /api/imports answers with.
type importAnswer struct {
	roster.Summary
	TaskID string `json:"taskId"`
	Error  apiError
	Errors []roster.Issue `json:"errors"`
}

// postFile sends body with contentType to path and decodes the answer.
func postFile(t *testing.T, c *client, path, contentType string, body []byte) (int, importAnswer) {
	t.Helper()
	req, _ := http.NewRequest("POST", c.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out importAnswer
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("POST %s: answer is not JSON: %s", path, raw)
	}
	if out.Errors != nil { // the answer's errors, of a dry run or a 422
		out.Summary.Errors = out.Errors
	}
	return resp.StatusCode, out
}

// importPage is GET /api/imports/{id}/results.
type importPage struct {
	Task       rekey.Task
	Counts     rekey.ImportCounts
	Results    []rekey.ImportRowResult
	NextCursor *string
}

// waitForImport waits for an import to finish and returns every row result.
func waitForImport(t *testing.T, c *client, id string) (rekey.Task, []rekey.ImportRowResult) {
	t.Helper()
	task := waitForTask(t, c, id)
	var all []rekey.ImportRowResult
	path := "/api/imports/" + id + "/results"
	for {
		var page importPage
		if status, e := c.do("GET", path, nil, &page); status != 200 {
			t.Fatalf("GET %s = %d %+v", path, status, e)
		}
		all = append(all, page.Results...)
		if page.NextCursor == nil {
			return task, all
		}
		path = "/api/imports/" + id + "/results?cursor=" + *page.NextCursor
	}
}

func userByName(t *testing.T, c *client, username string) (rekey.User, bool) {
	t.Helper()
	var page userPage
	if status, e := c.do("GET", "/api/users?q="+username, nil, &page); status != 200 {
		t.Fatalf("GET /api/users?q=%s = %d %+v", username, status, e)
	}
	for _, u := range page.Items {
		if u.Username == username {
			return u, true
		}
	}
	return rekey.User{}, false
}

const rosterCSV = "username,firstName,lastName,role,school,grade,email,externalId\n" +
	"imp.one,Ima,One,student,demo-school-1,4,imp.one@example.org,SIS-1\n" +
	"imp.two,Ima,Two,student,demo-school-2,KG,,SIS-2\n" +
	"imp.three,Ima,Three,teacher,demo-school-1,,imp.three@example.org,SIS-3\n"

func TestImportsEndToEnd(t *testing.T) {
	s := startStack(t)
	admin := signIn(t, s, "district.admin")

	// Dry run: counts, nothing written.
	status, dry := postFile(t, admin, "/api/imports?dryRun=true", "text/csv", []byte(rosterCSV))
	if status != 200 || dry.Create != 3 || len(dry.Summary.Errors) != 0 {
		t.Fatalf("dry run = %d %+v, want 200 with 3 creates", status, dry)
	}
	if _, found := userByName(t, admin, "imp.one"); found {
		t.Fatal("a dry run wrote a user")
	}

	// Apply: a task of kind import with per-row results.
	status, started := postFile(t, admin, "/api/imports", "text/csv", []byte(rosterCSV))
	if status != 202 || started.TaskID == "" {
		t.Fatalf("apply = %d %+v, want 202 with a task id", status, started)
	}
	task, results := waitForImport(t, admin, started.TaskID)
	if task.Kind != rekey.TaskKindImport || task.Status != rekey.TaskCompleted || task.Succeeded != 3 || len(results) != 3 {
		t.Fatalf("import task = %+v, results %+v", task, results)
	}
	// The task carries the dry run's counts (API.md), for GET /api/tasks/{id} and listings alike.
	var listed struct{ Items []rekey.Task }
	if status, e := admin.do("GET", "/api/tasks?status=completed", nil, &listed); status != 200 {
		t.Fatalf("GET /api/tasks = %d %+v", status, e)
	}
	seen := 0
	for _, got := range append([]rekey.Task{task}, listed.Items...) {
		if got.ID != task.ID {
			continue
		}
		seen++
		if got.ImportCounts == nil || *got.ImportCounts != (rekey.ImportCounts{Create: 3}) {
			t.Errorf("import task %s has importCounts %+v, want the dry run's {create: 3}", got.ID, got.ImportCounts)
		}
	}
	if seen != 2 {
		t.Errorf("import task %s read %d times (GET and the listing), want 2", task.ID, seen)
	}
	for _, r := range results {
		if r.Outcome != rekey.ImportCreated || r.UserID == "" {
			t.Errorf("row %d = %+v, want created", r.Row, r)
		}
	}
	two, found := userByName(t, admin, "imp.two")
	if !found || two.Grade != "K" || two.SchoolID != "demo-school-2" || two.ExternalID != "SIS-2" {
		t.Errorf("imp.two = %+v, %v", two, found)
	}

	// The same file again: all unchanged, nothing written.
	status, dry = postFile(t, admin, "/api/imports?dryRun=true", "text/csv", []byte(rosterCSV))
	if status != 200 || dry.Unchanged != 3 || dry.Create+dry.Update != 0 {
		t.Fatalf("dry run of the same file = %d %+v, want 3 unchanged", status, dry)
	}
	_, again := postFile(t, admin, "/api/imports", "text/csv", []byte(rosterCSV))
	task, results = waitForImport(t, admin, again.TaskID)
	if task.Skipped != 3 || task.Succeeded != 0 || task.ImportCounts == nil || *task.ImportCounts != (rekey.ImportCounts{Unchanged: 3}) {
		t.Errorf("re-import = %+v, want 3 skipped (unchanged)", task)
	}
	if after, _ := userByName(t, admin, "imp.two"); after.Version != two.Version {
		t.Errorf("re-import wrote imp.two: version %d → %d", two.Version, after.Version)
	}

	// A changed email: one update, audited with before and after.
	changed := strings.Replace(rosterCSV, "imp.one@example.org", "ima.one@example.org", 1)
	_, upd := postFile(t, admin, "/api/imports", "text/csv", []byte(changed))
	task, results = waitForImport(t, admin, upd.TaskID)
	if task.Succeeded != 1 || task.Skipped != 2 || results[0].Outcome != rekey.ImportUpdated {
		t.Fatalf("email change = %+v %+v, want one update", task, results)
	}
	one, _ := userByName(t, admin, "imp.one")
	var activity struct{ Items []rekey.AuditEntry }
	admin.do("GET", "/api/users/"+one.ID+"/activity", nil, &activity)
	if len(activity.Items) < 2 || activity.Items[0].Action != rekey.ActionUserUpdate ||
		activity.Items[0].Before["email"] != "imp.one@example.org" || activity.Items[0].After["email"] != "ima.one@example.org" {
		t.Errorf("activity of imp.one = %+v, want an update from imp.one@ to ima.one@ on top of the create", activity.Items)
	}
}

func TestImportsRefusalsEndToEnd(t *testing.T) {
	s := startStack(t)
	admin := signIn(t, s, "district.admin")
	principal := demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleSchoolAdmin && u.SchoolID == "demo-school-1" })
	head := signIn(t, s, principal.Username)
	teacher := signIn(t, s, demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleTeacher }).Username)
	student := signIn(t, s, demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleStudent }).Username)

	for _, test := range []struct {
		name        string
		c           *client
		path, ctype string
		body        []byte
		status      int
		code        string // error code, or the code of the first row error
	}{
		{"teacher", teacher, "/api/imports?dryRun=true", "text/csv", []byte(rosterCSV), 403, rekey.ECodeForbidden},
		{"student", student, "/api/imports", "text/csv", []byte(rosterCSV), 403, rekey.ECodeForbidden},
		{"not a zip, dry run", admin, "/api/imports?dryRun=true", "application/zip", []byte("username\nnot.a.zip\n"), 200, roster.CodeNotAZip},
		{"not a zip, apply", admin, "/api/imports", "application/zip", []byte("username\nnot.a.zip\n"), 422, roster.CodeNotAZip},
		{"too large", admin, "/api/imports", "text/csv", bytes.Repeat([]byte("a"), 5<<20+1), 413, rekey.ECodeUseUpload},
		{"other content type", admin, "/api/imports", "application/vnd.ms-excel", []byte(rosterCSV), 415, rekey.ECodeUnsupportedMedia},
		{"bad dryRun", admin, "/api/imports?dryRun=maybe", "text/csv", []byte(rosterCSV), 422, rekey.ECodeInvalidInput},
		{"school admin, another school's row", head, "/api/imports", "text/csv", []byte(rosterCSV), 422, roster.CodeOutOfScope},
		{"windows-1252", admin, "/api/imports", "text/csv", []byte("username,firstName,lastName,role,school\nzo\xe9.b,Zo\xe9,B,student,demo-school-1\n"), 422, roster.CodeInvalidEncoding},
	} {
		t.Run(test.name, func(t *testing.T) {
			status, got := postFile(t, test.c, test.path, test.ctype, test.body)
			code := got.Error.Code
			if test.status != 413 && test.status != 415 && test.status != 403 && code != rekey.ECodeInvalidInput && len(got.Summary.Errors) > 0 {
				code = got.Summary.Errors[0].Code
			}
			if status != test.status || code != test.code {
				t.Fatalf("= %d %q %+v, want %d %s", status, code, got, test.status, test.code)
			}
		})
	}
	// None of the refused files wrote anyone.
	for _, name := range []string{"imp.one", "imp.two", "imp.three", "not.a.zip"} {
		if _, found := userByName(t, admin, name); found {
			t.Errorf("%s exists after refused imports", name)
		}
	}
	var tasks struct{ Items []rekey.Task }
	admin.do("GET", "/api/tasks", nil, &tasks)
	for _, task := range tasks.Items {
		if task.Kind == rekey.TaskKindImport {
			t.Errorf("a refused import made task %+v", task)
		}
	}
	// A school admin's own school's rows are fine.
	own := "username,firstName,lastName,role,grade\nhead.made,Head,Made,student,3\n"
	if status, got := postFile(t, head, "/api/imports", "text/csv", []byte(own)); status != 202 {
		t.Errorf("school admin, own school = %d %+v, want 202", status, got)
	} else if task, _ := waitForImport(t, head, got.TaskID); task.Succeeded != 1 {
		t.Errorf("school admin's import = %+v", task)
	}
}

func TestImportUploadEndToEnd(t *testing.T) {
	s := startStack(t)
	admin := signIn(t, s, "district.admin")
	teacher := signIn(t, s, demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleTeacher }).Username)
	if status, e := teacher.do("POST", "/api/imports/uploads", nil, nil); status != 403 {
		t.Errorf("teacher upload = %d %+v, want 403", status, e)
	}
	var bundle bytes.Buffer
	if err := roster.GenerateBundle(&bundle, 40, 2); err != nil {
		t.Fatal(err)
	}
	var up struct{ UploadURL, ImportID string }
	if status, e := admin.do("POST", "/api/imports/uploads", nil, &up); status != 201 || up.UploadURL == "" {
		t.Fatalf("POST /api/imports/uploads = %d %+v", status, e)
	}
	req, _ := http.NewRequest("PUT", up.UploadURL, bytes.NewReader(bundle.Bytes()))
	req.Header.Set("Content-Type", "application/zip")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("PUT upload = %v, %v", resp, err)
	}
	resp.Body.Close()

	var dry roster.Summary
	if status, e := admin.do("POST", "/api/imports", map[string]any{"importId": up.ImportID, "dryRun": true}, &dry); status != 200 || dry.Create != 40 || dry.ErrorCount != 0 {
		t.Fatalf("dry run of the upload = %d %+v %+v, want 40 creates", status, e, dry)
	}
	// Another admin's session cannot use this importId.
	other := signIn(t, s, demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleSchoolAdmin }).Username)
	if status, e := other.do("POST", "/api/imports", map[string]any{"importId": up.ImportID, "dryRun": true}, nil); status != 404 {
		t.Errorf("someone else's importId = %d %+v, want 404", status, e)
	}
	var started struct{ TaskID string }
	if status, e := admin.do("POST", "/api/imports", map[string]any{"importId": up.ImportID}, &started); status != 202 {
		t.Fatalf("apply the upload = %d %+v", status, e)
	}
	task, results := waitForImport(t, admin, started.TaskID)
	if task.Succeeded+task.Skipped != 40 || task.Failed != 0 || len(results) != 40 {
		t.Errorf("upload import = %+v with %d results", task, len(results))
	}
	// The uploaded file is gone once the import is done.
	awsCfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) { o.UsePathStyle = true })
	testwait.Until(t, "the uploaded file to be deleted", func() (bool, string) {
		out, err := client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{
			Bucket: aws.String(s.App.Config.ImportBucket), Prefix: aws.String("uploads/"),
		})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.Contents) == 0, fmt.Sprintf("%d objects left", len(out.Contents))
	})
}

func TestCreateUserEndToEnd(t *testing.T) {
	s := startStack(t)
	admin := signIn(t, s, "district.admin")
	teacher := signIn(t, s, demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleTeacher }).Username)
	body := map[string]any{"role": "student", "firstName": "Nia", "lastName": "New", "username": "nia.new",
		"email": "nia.new@example.org", "schoolId": "demo-school-1", "grade": "3", "externalId": "SIS-77"}
	var u rekey.User
	if status, e := admin.do("POST", "/api/users", body, &u); status != 201 || u.ID == "" || u.Username != "nia.new" {
		t.Fatalf("create = %d %+v %+v", status, e, u)
	}
	var activity struct{ Items []rekey.AuditEntry }
	admin.do("GET", "/api/users/"+u.ID+"/activity", nil, &activity)
	if len(activity.Items) != 1 || activity.Items[0].Action != rekey.ActionUserCreate {
		t.Errorf("activity = %+v, want one user.create", activity.Items)
	}
	for _, test := range []struct {
		name   string
		c      *client
		change map[string]any
		status int
		code   string
	}{
		{"same username", admin, map[string]any{"email": "other@example.org", "externalId": "SIS-78"}, 409, rekey.ECodeUsernameTaken},
		{"same email", admin, map[string]any{"username": "nia.two", "externalId": "SIS-78"}, 409, rekey.ECodeEmailTaken},
		{"same externalId", admin, map[string]any{"username": "nia.two", "email": "nia.two@example.org"}, 409, rekey.ECodeExternalIDTaken},
		{"teacher", teacher, map[string]any{"username": "nia.three", "email": "", "externalId": ""}, 403, rekey.ECodeForbidden},
		{"unknown field", admin, map[string]any{"password": "x"}, 400, rekey.ECodeUnknownField},
	} {
		t.Run(test.name, func(t *testing.T) {
			b := map[string]any{}
			for k, v := range body {
				b[k] = v
			}
			for k, v := range test.change {
				b[k] = v
			}
			if status, e := test.c.do("POST", "/api/users", b, nil); status != test.status || e.Code != test.code {
				t.Errorf("= %d %+v, want %d %s", status, e, test.status, test.code)
			}
		})
	}
}

// TestImportResultsScopeEndToEnd: an import's per-row results (usernames,
// user ids, emails before and after) are read against the viewer's current
// scope (SECURITY.md 21–22): having started the import grants nothing by
// itself, so a school admin moved to another school no longer reads the
// rows of their old school's import, and a teacher of the school or an
// admin of another school never did; the district admin does.
func TestImportResultsScopeEndToEnd(t *testing.T) {
	s := startStack(t)
	district := signIn(t, s, "district.admin")
	principal := demoUser(t, s, func(u rekey.User) bool { return u.Role == rekey.RoleSchoolAdmin && u.SchoolID == "demo-school-1" })
	head := signIn(t, s, principal.Username)
	teacher := signIn(t, s, demoUser(t, s, func(u rekey.User) bool {
		return u.Role == rekey.RoleTeacher && u.SchoolID == "demo-school-1"
	}).Username)
	otherHead := signIn(t, s, demoUser(t, s, func(u rekey.User) bool {
		return u.Role == rekey.RoleSchoolAdmin && u.SchoolID != "" && u.SchoolID != "demo-school-1"
	}).Username)

	own := "username,firstName,lastName,role,grade,email\nscoped.pupil,Scoped,Pupil,student,3,scoped.pupil@example.org\n"
	status, started := postFile(t, head, "/api/imports", "text/csv", []byte(own))
	if status != 202 {
		t.Fatalf("school admin's import = %d %+v, want 202", status, started)
	}
	if task, results := waitForImport(t, head, started.TaskID); task.Succeeded != 1 || len(results) != 1 {
		t.Fatalf("school admin's import = %+v %+v, want one created row", task, results)
	}
	path := "/api/imports/" + started.TaskID + "/results"

	// The creator moves to another school (their session lives on).
	patchUser(t, district, principal.ID, map[string]any{"schoolId": "demo-school-2"})
	moved := signIn(t, s, principal.Username)

	for _, test := range []struct {
		name   string
		c      *client
		status int
	}{
		{"district admin", district, 200},
		{"teacher of the school", teacher, 404},
		{"admin of another school", otherHead, 404},
		{"creator moved to another school, old session", head, 404},
		{"creator moved to another school, new session", moved, 404},
	} {
		t.Run(test.name, func(t *testing.T) {
			var page importPage
			status, e := test.c.do("GET", path, nil, &page)
			if status != test.status {
				t.Fatalf("GET %s = %d %+v %+v, want %d", path, status, e, page, test.status)
			}
			if status != 200 && (len(page.Results) > 0 || page.Task.ID != "") {
				t.Errorf("refused answer carries the import: %+v", page)
			}
		})
	}
}
