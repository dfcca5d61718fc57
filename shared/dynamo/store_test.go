package dynamo

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
)

// timesItem has a time attribute of each kind an item struct uses.
type timesItem struct {
	At    storedTime `dynamodbav:"at,omitempty"`
	Until storedTime `dynamodbav:"until,omitempty"`
}

// TestStoredTimeRoundTrip: stored times keep the text formatTime wrote
// before storedTime existed, byte for byte, so existing items read back;
// the zero time is no attribute, and "", NULL and a missing attribute are
// the zero time.
func TestStoredTimeRoundTrip(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	for _, test := range []struct {
		name   string
		at     time.Time
		stored string // "" for no attribute
	}{
		{"zero", time.Time{}, ""},
		{"whole second", time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC), "2026-09-01T08:00:00.000000000Z"},
		{"nanoseconds", time.Date(2026, 9, 1, 8, 0, 0, 1200, time.UTC), "2026-09-01T08:00:00.000001200Z"},
		{"other zone", time.Date(2026, 12, 31, 23, 59, 59, 999999999, paris), "2026-12-31T22:59:59.999999999Z"},
	} {
		t.Run(test.name, func(t *testing.T) {
			if got := formatTime(test.at); got != test.stored {
				t.Errorf("formatTime(%v) = %q, want %q", test.at, got, test.stored)
			}
			av, err := marshalItem(timesItem{At: storedTime{test.at}})
			if err != nil {
				t.Fatalf("marshalItem() error: %v", err)
			}
			want := map[string]types.AttributeValue{}
			if test.stored != "" {
				want["at"] = &types.AttributeValueMemberS{Value: test.stored}
			}
			if diff := cmp.Diff(want, av, cmp.AllowUnexported(types.AttributeValueMemberS{})); diff != "" {
				t.Errorf("marshalItem() mismatch (-want +got):\n%s", diff)
			}
			var back timesItem
			if err := unmarshalItem(av, &back); err != nil {
				t.Fatalf("unmarshalItem(%v) error: %v", av, err)
			}
			if !back.At.Equal(test.at) || back.At.Location() != time.UTC || !back.Until.IsZero() {
				t.Errorf("unmarshalItem(%v) = %v, %v; want %v in UTC and the zero time", av, back.At, back.Until, test.at)
			}
		})
	}
}

// TestStoredTimeReadsOldItems reads values items hold today: what the old
// formatTime wrote, "" (written for a zero time where the attribute was
// not omitempty), NULL, and a missing attribute; a value that is no time
// is an error.
func TestStoredTimeReadsOldItems(t *testing.T) {
	for _, test := range []struct {
		name    string
		av      types.AttributeValue // nil for no attribute
		want    time.Time
		wantErr bool
	}{
		{"old formatTime value", &types.AttributeValueMemberS{Value: "2026-03-04T05:06:07.080000000Z"}, time.Date(2026, 3, 4, 5, 6, 7, 80000000, time.UTC), false},
		{"empty string", &types.AttributeValueMemberS{Value: ""}, time.Time{}, false},
		{"null", &types.AttributeValueMemberNULL{Value: true}, time.Time{}, false},
		{"missing", nil, time.Time{}, false},
		{"not a time", &types.AttributeValueMemberS{Value: "yesterday"}, time.Time{}, true},
		{"not a string", &types.AttributeValueMemberN{Value: "1"}, time.Time{}, true},
	} {
		t.Run(test.name, func(t *testing.T) {
			item := map[string]types.AttributeValue{}
			if test.av != nil {
				item["at"] = test.av
			}
			var got timesItem
			err := unmarshalItem(item, &got)
			if (err != nil) != test.wantErr {
				t.Fatalf("unmarshalItem(%v) error = %v, want error %v", item, err, test.wantErr)
			}
			if !test.wantErr && (!got.At.Equal(test.want) || got.At.Location() != time.UTC) {
				t.Errorf("unmarshalItem(%v) at = %v, want %v in UTC", item, got.At, test.want)
			}
		})
	}
}
