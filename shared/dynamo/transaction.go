package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/rekey/rekey/shared/rekey"
)

// transaction collects the steps of one TransactWriteItems together with
// the domain error that each step's failed condition means.
type transaction struct {
	steps    []types.TransactWriteItem
	failures []error
	err      error // the first error building a step
}

func (t *transaction) add(step types.TransactWriteItem, err error, onConditionFailed error) {
	if t.err != nil {
		return
	}
	if err != nil {
		t.err = err
		return
	}
	t.steps = append(t.steps, step)
	t.failures = append(t.failures, onConditionFailed)
}

// transact runs t atomically. When DynamoDB cancels it, the error is the
// one registered for the first step whose condition failed; a transaction
// that competing ones kept cancelling is rekey.ErrConflict. The retries (see
// transactReasons) let the loser of a race learn the real reason (e.g. the
// username is taken).
func (s *Store) transact(ctx context.Context, t *transaction) error {
	if t.err != nil {
		return t.err
	}
	reasons, err := s.transactReasons(ctx, t.steps)
	if errors.Is(err, errContended) {
		return rekey.ErrConflict
	}
	if err != nil {
		return err
	}
	for i, code := range reasons {
		if code == "ConditionalCheckFailed" {
			if i < len(t.failures) && t.failures[i] != nil {
				return t.failures[i]
			}
			return rekey.ErrConflict
		}
	}
	return nil
}

// maxTransactAttempts bounds the attempts of a transaction cancelled only
// because concurrent ones touched the same items (chunks completing at
// once all update their task; two admins take the same username) or the
// table was throttled.
const maxTransactAttempts = 8

// errContended marks a transaction that was still being cancelled by
// competing transactions after maxTransactAttempts.
var errContended = errors.New("cancelled by competing transactions")

// transactReasons runs steps as one transaction: the one retry loop of the
// store. It returns nil reasons on success; when DynamoDB cancels the
// transaction for a failed condition, the cancellation code of every step,
// so the caller can tell which conditions failed. Cancellations caused only
// by competing transactions or throttling are retried with a growing,
// jittered pause; when competing transactions still win after
// maxTransactAttempts the error wraps errContended and the cancellation.
func (s *Store) transactReasons(ctx context.Context, steps []types.TransactWriteItem) ([]string, error) {
	in := &dynamodb.TransactWriteItemsInput{TransactItems: steps}
	for attempt := 1; ; attempt++ {
		_, err := s.db.TransactWriteItems(ctx, in)
		var cancelled *types.TransactionCanceledException
		if !errors.As(err, &cancelled) {
			return nil, err
		}
		reasons := make([]string, len(steps))
		failed, competing, throttled := false, false, false
		for i, r := range cancelled.CancellationReasons {
			if i < len(reasons) {
				reasons[i] = aws.ToString(r.Code)
			}
			switch aws.ToString(r.Code) {
			case "ConditionalCheckFailed":
				failed = true
			case "TransactionConflict":
				competing = true
			case "ThrottlingError", "ProvisionedThroughputExceeded":
				throttled = true
			}
		}
		switch {
		case failed:
			return reasons, nil
		case !competing && !throttled:
			return nil, err
		case attempt == maxTransactAttempts && competing:
			return nil, fmt.Errorf("%w after %d attempts: %w", errContended, attempt, err)
		case attempt == maxTransactAttempts:
			return nil, err
		}
		if err := pause(ctx, attempt); err != nil {
			return nil, err
		}
	}
}
