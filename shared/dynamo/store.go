// Package dynamo stores Rekey's records in one DynamoDB table (the
// single-table design of docs/data-model.md). It translates between items and
// the domain structs of package rekey, and SDK errors into domain errors,
// so that nothing above it sees an AWS type.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/rekey/rekey/shared/rekey"
)

// DB is the part of the DynamoDB API that the store uses. *dynamodb.Client
// satisfies it; a wrapper (counting calls, injecting faults) can stand in.
type DB interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// defaultMaxEvaluated caps the items one filtered listing call reads before
// it returns what it has, so a selective filter over a large index cannot
// run one request for long.
const defaultMaxEvaluated = 2000

// Store reads and writes every Rekey record in one table.
type Store struct {
	db    DB
	table string
	now   func() time.Time
	// maxEvaluated is the per-call read budget of listings (a field so
	// tests can make it small).
	maxEvaluated int
}

// New returns a store for the named table. now is the clock used to judge
// expiry of sessions and throttles; nil means time.Now.
func New(db DB, table string, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, table: table, now: now, maxEvaluated: defaultMaxEvaluated}
}

// timeLayout is RFC 3339 with a fixed nine-digit fraction, always in UTC,
// so that stored times sort as strings (sort keys, conditions).
const timeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// formatTime renders t for storage; the zero time is stored as "" (and
// omitted from items).
func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

// storedTime is a time attribute of an item: formatTime's text (RFC 3339
// UTC, fixed nine-digit fraction, so stored times sort and compare as
// strings in conditions). The zero time is no attribute at all —
// marshalItem omits it from omitempty fields — and a missing attribute, ""
// or NULL reads back as the zero time.
type storedTime struct{ time.Time }

// MarshalDynamoDBAttributeValue implements attributevalue.Marshaler.
func (t storedTime) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	if t.IsZero() {
		return &types.AttributeValueMemberNULL{Value: true}, nil
	}
	return &types.AttributeValueMemberS{Value: formatTime(t.Time)}, nil
}

// UnmarshalDynamoDBAttributeValue implements attributevalue.Unmarshaler.
func (t *storedTime) UnmarshalDynamoDBAttributeValue(av types.AttributeValue) error {
	t.Time = time.Time{}
	switch v := av.(type) {
	case nil, *types.AttributeValueMemberNULL:
		return nil
	case *types.AttributeValueMemberS:
		if v.Value == "" {
			return nil
		}
		parsed, err := time.Parse(time.RFC3339Nano, v.Value)
		if err != nil {
			return fmt.Errorf("stored time: %w", err)
		}
		t.Time = parsed
		return nil
	}
	return fmt.Errorf("stored time: %T is not a string", av)
}

// marshalItem encodes one of the item structs; a zero storedTime in an
// omitempty field is left out, as an empty string is.
func marshalItem(item any) (map[string]types.AttributeValue, error) {
	return attributevalue.MarshalMapWithOptions(item, func(o *attributevalue.EncoderOptions) {
		o.OmitNullAttributeValues = true
	})
}

// itemKey is the primary key of an item.
func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"PK": &types.AttributeValueMemberS{Value: pk},
		"SK": &types.AttributeValueMemberS{Value: sk},
	}
}

// getItem reads one item with a strongly consistent read into out.
// A missing item is rekey.ErrNotFound.
func (s *Store) getItem(ctx context.Context, pk, sk string, out any) error {
	resp, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            itemKey(pk, sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return err
	}
	if len(resp.Item) == 0 {
		return rekey.ErrNotFound
	}
	return unmarshalItem(resp.Item, out)
}

// unmarshalItem decodes a stored item into one of the item structs.
func unmarshalItem(item map[string]types.AttributeValue, out any) error {
	if err := attributevalue.UnmarshalMap(item, out); err != nil {
		return fmt.Errorf("decode item: %w", err)
	}
	return nil
}

// putItem writes item, replacing any item with the same key. When cond is
// set and fails, the error is onConditionFailed.
func (s *Store) putItem(ctx context.Context, item any, cond *expression.ConditionBuilder, onConditionFailed error) error {
	av, err := marshalItem(item)
	if err != nil {
		return fmt.Errorf("encode item: %w", err)
	}
	in := &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: av}
	if cond != nil {
		expr, err := expression.NewBuilder().WithCondition(*cond).Build()
		if err != nil {
			return fmt.Errorf("build condition: %w", err)
		}
		in.ConditionExpression = expr.Condition()
		in.ExpressionAttributeNames = expr.Names()
		in.ExpressionAttributeValues = expr.Values()
	}
	_, err = s.db.PutItem(ctx, in)
	return conditionError(err, onConditionFailed)
}

// updateItem applies update to the item pk/sk (creating it when absent
// unless cond forbids it) and returns the item as it is afterwards.
func (s *Store) updateItem(ctx context.Context, pk, sk string, update expression.UpdateBuilder, cond *expression.ConditionBuilder, onConditionFailed error) (map[string]types.AttributeValue, error) {
	b := expression.NewBuilder().WithUpdate(update)
	if cond != nil {
		b = b.WithCondition(*cond)
	}
	expr, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("build update: %w", err)
	}
	resp, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       itemKey(pk, sk),
		UpdateExpression:          expr.Update(),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
		ReturnValues:              types.ReturnValueAllNew,
	})
	if err != nil {
		return nil, conditionError(err, onConditionFailed)
	}
	return resp.Attributes, nil
}

// deleteItem removes the item pk/sk; deleting a missing item is no error.
func (s *Store) deleteItem(ctx context.Context, pk, sk string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.table), Key: itemKey(pk, sk)})
	return err
}

// conditionError turns a failed condition into the domain error that the
// caller chose for it and leaves other errors as they are.
func conditionError(err, onConditionFailed error) error {
	var failed *types.ConditionalCheckFailedException
	if onConditionFailed != nil && errors.As(err, &failed) {
		return onConditionFailed
	}
	return err
}

// txPut is a transaction step that writes item on condition cond.
func (s *Store) txPut(item any, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	av, err := marshalItem(item)
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("encode item: %w", err)
	}
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("build condition: %w", err)
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName:                 aws.String(s.table),
		Item:                      av,
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}, nil
}

// txDelete is a transaction step that deletes pk/sk on condition cond.
func (s *Store) txDelete(pk, sk string, cond expression.ConditionBuilder) (types.TransactWriteItem, error) {
	expr, err := expression.NewBuilder().WithCondition(cond).Build()
	if err != nil {
		return types.TransactWriteItem{}, fmt.Errorf("build condition: %w", err)
	}
	return types.TransactWriteItem{Delete: &types.Delete{
		TableName:                 aws.String(s.table),
		Key:                       itemKey(pk, sk),
		ConditionExpression:       expr.Condition(),
		ExpressionAttributeNames:  expr.Names(),
		ExpressionAttributeValues: expr.Values(),
	}}, nil
}
