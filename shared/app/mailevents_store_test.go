package app

import (
	"testing"

	"github.com/rekey/rekey/shared/dynamo"
	"github.com/rekey/rekey/shared/memstore"
)

// TestStoresRecordMailEvents: both stores record SES events, so the
// mail-events function gets the store, not the stand-in that fails every
// event.
func TestStoresRecordMailEvents(t *testing.T) {
	for name, store := range map[string]any{"dynamo": &dynamo.Store{}, "memstore": memstore.New(nil)} {
		if _, standIn := mailEventRecorder(store).(unrecordedMailEvents); standIn {
			t.Errorf("%s: mailEventRecorder gave the stand-in", name)
		}
	}
}
