package roster

import "encoding/json"

// rowJSON is a Row as an import task stores it between planning the whole
// file and applying it chunk by chunk: every field, the unexported
// administrator mark included, so that a re-planned chunk decides roles as
// the whole file's plan did.
type rowJSON struct {
	plainRow
	Administrator bool `json:"administrator,omitempty"`
}

// plainRow is Row without its JSON methods.
type plainRow Row

// MarshalJSON keeps the administrator mark.
func (r Row) MarshalJSON() ([]byte, error) {
	return json.Marshal(rowJSON{plainRow: plainRow(r), Administrator: r.administrator})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (r *Row) UnmarshalJSON(b []byte) error {
	var v rowJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = Row(v.plainRow)
	r.administrator = v.Administrator
	return nil
}
