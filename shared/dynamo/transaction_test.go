package dynamo

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/rekey/rekey/shared/rekey"
)

// cancellingDB answers TransactWriteItems with the cancellations of
// answers in turn (nil is success, a non-cancellation error is returned
// as it is), repeating the last one, and counts the calls.
type cancellingDB struct {
	DB
	answers []error
	calls   int
}

func (d *cancellingDB) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	err := d.answers[min(d.calls, len(d.answers)-1)]
	d.calls++
	return &dynamodb.TransactWriteItemsOutput{}, err
}

// cancelled is a cancellation with one reason code per step.
func cancelled(codes ...string) error {
	e := &types.TransactionCanceledException{Message: aws.String("Transaction cancelled")}
	for _, c := range codes {
		e.CancellationReasons = append(e.CancellationReasons, types.CancellationReason{Code: aws.String(c)})
	}
	return e
}

func TestTransact(t *testing.T) {
	errTaken := errors.New("taken")
	errNetwork := errors.New("connection reset")
	for _, test := range []struct {
		name      string
		answers   []error
		want      error // errors.Is
		wantCalls int
	}{
		{"success", []error{nil}, nil, 1},
		{"competing twice, then success", []error{cancelled("None", "TransactionConflict"), cancelled("TransactionConflict", "None"), nil}, nil, 3},
		{"condition of the second step", []error{cancelled("None", "ConditionalCheckFailed")}, errTaken, 1},
		{"condition of a step without its own error", []error{cancelled("ConditionalCheckFailed", "None")}, rekey.ErrConflict, 1},
		{"lost the race, then the condition", []error{cancelled("TransactionConflict", "None"), cancelled("None", "ConditionalCheckFailed")}, errTaken, 2},
		{"always competing", []error{cancelled("TransactionConflict", "None")}, rekey.ErrConflict, maxTransactAttempts},
		{"throttled, then success", []error{cancelled("ThrottlingError", "None"), nil}, nil, 2},
		{"other error", []error{errNetwork}, errNetwork, 1},
	} {
		t.Run(test.name, func(t *testing.T) {
			db := &cancellingDB{answers: test.answers}
			s := New(db, "t", nil)
			tx := &transaction{}
			tx.add(types.TransactWriteItem{}, nil, nil)
			tx.add(types.TransactWriteItem{}, nil, errTaken)
			err := s.transact(context.Background(), tx)
			if !errors.Is(err, test.want) || (test.want == nil) != (err == nil) {
				t.Errorf("transact() = %v, want %v", err, test.want)
			}
			if db.calls != test.wantCalls {
				t.Errorf("transact() made %d calls, want %d", db.calls, test.wantCalls)
			}
		})
	}
}

// TestTransactThrottledIsNoConflict: a transaction the table keeps
// throttling fails with the cancellation itself, not with a conflict the
// API would show as 409.
func TestTransactThrottledIsNoConflict(t *testing.T) {
	db := &cancellingDB{answers: []error{cancelled("ThrottlingError")}}
	tx := &transaction{}
	tx.add(types.TransactWriteItem{}, nil, nil)
	err := New(db, "t", nil).transact(context.Background(), tx)
	var c *types.TransactionCanceledException
	if !errors.As(err, &c) || errors.Is(err, rekey.ErrConflict) || db.calls != maxTransactAttempts {
		t.Errorf("transact() = %v after %d calls, want the cancellation after %d", err, db.calls, maxTransactAttempts)
	}
}

func TestTransactReasons(t *testing.T) {
	steps := make([]types.TransactWriteItem, 3)
	db := &cancellingDB{answers: []error{cancelled("TransactionConflict", "None", "None"), cancelled("None", "ConditionalCheckFailed", "None")}}
	reasons, err := New(db, "t", nil).transactReasons(context.Background(), steps)
	if err != nil || len(reasons) != 3 || reasons[1] != "ConditionalCheckFailed" || db.calls != 2 {
		t.Errorf("transactReasons() = %v, %v after %d calls; want the second step's condition after 2", reasons, err, db.calls)
	}

	// Still losing after every attempt: the cancellation itself, marked
	// as contended, and no reasons (the worker retries the message).
	db = &cancellingDB{answers: []error{cancelled("None", "TransactionConflict", "None")}}
	reasons, err = New(db, "t", nil).transactReasons(context.Background(), steps)
	var c *types.TransactionCanceledException
	if reasons != nil || !errors.As(err, &c) || !errors.Is(err, errContended) || errors.Is(err, rekey.ErrConflict) || db.calls != maxTransactAttempts {
		t.Errorf("transactReasons() = %v, %v after %d calls; want a contended cancellation after %d", reasons, err, db.calls, maxTransactAttempts)
	}
}
