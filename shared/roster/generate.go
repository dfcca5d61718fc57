package roster

import (
	"archive/zip"
	"encoding/csv"
	"fmt"
	"io"
)

// GenerateBundle writes a OneRoster 1.1 CSV bundle (a zip) shaped like a
// district's export: one district org, schools orgs, and users people:
// mostly students with grades KG to 12, one teacher in twelve, an
// administrator per school and a district administrator, a guardian for
// one student in ten (linked both ways by agentSourcedIds), and a
// classes.csv that an import ignores. It is for benchmarks and tests of
// large imports; the same (users, schools) always gives the same bytes.
func GenerateBundle(w io.Writer, users, schools int) error {
	if schools < 1 {
		schools = 1
	}
	zw := zip.NewWriter(w)
	write := func(name string, rows func(*csv.Writer) error) error {
		fw, err := zw.Create(name)
		if err != nil {
			return err
		}
		cw := csv.NewWriter(fw)
		cw.UseCRLF = true
		if err := rows(cw); err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	}
	err := write(fileManifest, func(cw *csv.Writer) error {
		cw.Write([]string{"propertyName", "value"})
		for _, row := range [][]string{{"manifest.version", "1.0"}, {"oneroster.version", "1.1"},
			{"file.academicSessions", "absent"}, {"file.categories", "absent"}, {"file.classes", "bulk"},
			{"file.classResources", "absent"}, {"file.courses", "absent"}, {"file.courseResources", "absent"},
			{"file.demographics", "absent"}, {"file.enrollments", "absent"}, {"file.lineItems", "absent"},
			{"file.orgs", "bulk"}, {"file.resources", "absent"}, {"file.results", "absent"}, {"file.users", "bulk"},
			{"source.systemName", "Generated SIS"}, {"source.systemCode", "gen"}} {
			cw.Write(row)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("roster: generate manifest: %w", err)
	}
	err = write(fileOrgs, func(cw *csv.Writer) error {
		cw.Write(orgColumns)
		cw.Write([]string{"org-d1", "", "", "Generated Unified School District", "district", "D1", ""})
		for s := 1; s <= schools; s++ {
			cw.Write([]string{fmt.Sprintf("org-s%03d", s), "", "", fmt.Sprintf("School %03d", s), "school", fmt.Sprintf("S%03d", s), "org-d1"})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("roster: generate orgs: %w", err)
	}
	err = write(fileUsers, func(cw *csv.Writer) error {
		cw.Write(userColumns)
		grades := []string{"KG", "01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"}
		kind := func(i int) string { return generatedKind(i, schools) }
		for i := range users {
			id := fmt.Sprintf("u%07d", i)
			school := fmt.Sprintf("org-s%03d", i%schools+1)
			role, grade, email, agents := "student", grades[i%len(grades)], "", ""
			switch kind(i) {
			case "district":
				role, school, grade, email = "administrator", "org-d1", "", id+"@district.example.org"
			case "administrator":
				role, grade, email = "administrator", "", id+"@district.example.org"
			case "teacher":
				role, grade, email = "teacher", "", id+"@district.example.org"
			case "guardian":
				role, grade, email, agents = "guardian", "", id+"@home.example.net", fmt.Sprintf("u%07d", i-1)
			default:
				if i+1 < users && kind(i+1) == "guardian" {
					agents = fmt.Sprintf("u%07d", i+1)
					email = id + "@students.example.org"
				}
			}
			cw.Write([]string{id, "", "", "true", school, role, id, "{SIS:" + id + "}", fmt.Sprintf("Given%d", i),
				fmt.Sprintf("Family%d", i), "", id, email, "", "", agents, grade, ""})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("roster: generate users: %w", err)
	}
	err = write("classes.csv", func(cw *csv.Writer) error {
		cw.Write([]string{"sourcedId", "status", "dateLastModified", "title", "grades", "courseSourcedId", "classCode",
			"classType", "location", "schoolSourcedId", "termSourcedIds", "subjects", "subjectCodes", "periods"})
		return nil
	})
	if err != nil {
		return fmt.Errorf("roster: generate classes: %w", err)
	}
	return zw.Close()
}

// generatedKind is what row i of GenerateBundle is: the district's
// administrator, a school's, a teacher, a guardian (of the student before
// it, so every link joins a guardian and a student) or a student.
func generatedKind(i, schools int) string {
	switch {
	case i == 0:
		return "district"
	case i < schools+1:
		return "administrator"
	case i%12 == 1:
		return "teacher"
	case i%10 == 3 && generatedKind(i-1, schools) == "student":
		return "guardian"
	}
	return "student"
}
