package ses

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/google/go-cmp/cmp"
	"github.com/rekey/rekey/shared/mail"
)

// fakeAccount answers GetAccount with out, or err.
type fakeAccount struct {
	out *sesv2.GetAccountOutput
	err error
}

func (f fakeAccount) GetAccount(context.Context, *sesv2.GetAccountInput, ...func(*sesv2.Options)) (*sesv2.GetAccountOutput, error) {
	return f.out, f.err
}

func TestAccountQuota(t *testing.T) {
	unavailable := errors.New("GetAccount not implemented")
	for _, test := range []struct {
		name    string
		api     fakeAccount
		want    mail.Quota
		wantErr error
	}{
		{name: "figures", api: fakeAccount{out: &sesv2.GetAccountOutput{SendingEnabled: true,
			SendQuota: &types.SendQuota{Max24HourSend: 50000, SentLast24Hours: 1200, MaxSendRate: 14}}},
			want: mail.Quota{SendingEnabled: true, Known: true, Max24HourSend: 50000, SentLast24Hours: 1200, MaxSendRate: 14}},
		{name: "no daily limit", api: fakeAccount{out: &sesv2.GetAccountOutput{SendingEnabled: true,
			SendQuota: &types.SendQuota{Max24HourSend: -1, MaxSendRate: 100}}},
			want: mail.Quota{SendingEnabled: true, Known: true, Max24HourSend: -1, MaxSendRate: 100}},
		{name: "paused", api: fakeAccount{out: &sesv2.GetAccountOutput{SendQuota: &types.SendQuota{Max24HourSend: 200, MaxSendRate: 1}}},
			want: mail.Quota{Known: true, Max24HourSend: 200, MaxSendRate: 1}},
		{name: "no figures", api: fakeAccount{out: &sesv2.GetAccountOutput{SendingEnabled: true}},
			want: mail.Quota{SendingEnabled: true}},
		{name: "unavailable", api: fakeAccount{err: unavailable}, wantErr: unavailable},
	} {
		t.Run(test.name, func(t *testing.T) {
			got, err := NewAccount(test.api).Quota(context.Background())
			if !errors.Is(err, test.wantErr) || (err == nil) != (test.wantErr == nil) {
				t.Fatalf("Quota() error = %v, want %v", err, test.wantErr)
			}
			if diff := cmp.Diff(test.want, got); diff != "" {
				t.Errorf("Quota() (-want +got):\n%s", diff)
			}
		})
	}
}
