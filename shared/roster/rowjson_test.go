package roster

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/rekey/rekey/shared/rekey"
)

// An import task stores rows as JSON and re-plans them chunk by chunk: a
// OneRoster administrator must still be one after the round trip, or a
// district administrator would be planned as a school admin without school.
func TestRowJSONRoundTrip(t *testing.T) {
	for _, r := range []Row{
		{File: "users.csv", Row: 2, ExternalID: "u1", Username: "ann", Role: rekey.RoleSchoolAdmin, OrgIDs: []string{"org-d1"}, administrator: true},
		{File: "users.csv", Row: 3, Username: "bo", Role: rekey.RoleStudent, AgentIDs: []string{"g1"}, Grade: "K", Status: rekey.StatusDisabled, Deleted: true},
	} {
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var got Row
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, r) {
			t.Errorf("round trip of %+v = %+v (%s)", r, got, b)
		}
	}
}
