package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
)

// requestCountSK is the sort key of request counters, which share the
// THROTTLE# partition prefix with sign-in throttles but never their items.
const requestCountSK = "COUNT"

// requestCountItem counts the requests of one key in one fixed window.
type requestCountItem struct {
	Count int `dynamodbav:"count"`
}

// CountRequest counts one request of key (e.g. "FORGOT#CLIENT#<ip>") at time
// at and returns how many the fixed window of length window that contains
// at has counted, this one included. Windows are aligned to the Unix epoch;
// each is one item (THROTTLE#<key>#<window start> / COUNT) that DynamoDB
// deletes after the window. Counting never locks anything: callers decide
// what a high count means.
func (s *Store) CountRequest(ctx context.Context, key string, at time.Time, window time.Duration) (int, error) {
	if window <= 0 {
		return 0, fmt.Errorf("dynamo: count request: window %v is not positive", window)
	}
	start := at.Truncate(window)
	pk := throttlePrefix + key + "#" + strconv.FormatInt(start.Unix(), 10)
	update := expression.Add(expression.Name("count"), expression.Value(1)).
		Set(expression.Name("ttl"), expression.IfNotExists(expression.Name("ttl"), expression.Value(ttlAfter(start.Add(window)))))
	item, err := s.updateItem(ctx, pk, requestCountSK, update, nil, nil)
	if err != nil {
		return 0, fmt.Errorf("dynamo: count request: %w", err)
	}
	var it requestCountItem
	if err := unmarshalItem(item, &it); err != nil {
		return 0, fmt.Errorf("dynamo: count request: %w", err)
	}
	return it.Count, nil
}
