package mototest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestMain(m *testing.M) { Main(m) }

func TestMainSetsEnvironment(t *testing.T) {
	for name, want := range map[string]string{"AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test"} {
		if got := os.Getenv(name); got != want {
			t.Errorf("os.Getenv(%q) = %q, want %q", name, got, want)
		}
	}
	if os.Getenv("AWS_ENDPOINT_URL") == "" {
		t.Error(`os.Getenv("AWS_ENDPOINT_URL") = "", want moto's endpoint`)
	}
}

func TestTable(t *testing.T) {
	cfg := Config(t)
	first, second := Table(t, cfg), Table(t, cfg)
	if first == second {
		t.Errorf("Table() twice = %q both times, want distinct names", first)
	}
	db := dynamodb.NewFromConfig(cfg)
	for _, name := range []string{first, second} {
		if _, err := db.DescribeTable(context.Background(), &dynamodb.DescribeTableInput{TableName: aws.String(name)}); err != nil {
			t.Errorf("DescribeTable(%q) error: %v", name, err)
		}
	}
}

func TestTableName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)
	for _, test := range []string{"TestX", "TestUsers/list by school #2", string(make([]byte, 300))} {
		if got := tableName(test); !valid.MatchString(got) {
			t.Errorf("tableName(%q) = %q, not a valid table name", test, got)
		}
	}
}

// TestTransactionsStayAllOrNothing: moto started through infra/moto's patch.py still
// applies a transaction whole or not at all, across two tables, however
// many items it holds (the script changes how moto backs tables up before
// a transaction and how it puts items back when one is cancelled).
func TestTransactionsStayAllOrNothing(t *testing.T) {
	cfg := Config(t)
	db := dynamodb.NewFromConfig(cfg)
	ctx := context.Background()
	tables := []string{Table(t, cfg), Table(t, cfg)}
	put := func(table, pk string, condition string) types.TransactWriteItem {
		p := &types.Put{TableName: aws.String(table), Item: map[string]types.AttributeValue{
			"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: "x"},
		}}
		if condition != "" {
			p.ConditionExpression = aws.String(condition)
		}
		return types.TransactWriteItem{Put: p}
	}
	count := func(table string) int32 {
		t.Helper()
		out, err := db.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), Select: types.SelectCount})
		if err != nil {
			t.Fatalf("Scan(%s): %v", table, err)
		}
		return out.Count
	}
	// The first item of the second table exists already: a later
	// transaction that requires it absent must leave everything as it was.
	if _, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{put(tables[1], "taken", "")}}); err != nil {
		t.Fatalf("TransactWriteItems(one put) error: %v", err)
	}
	var items []types.TransactWriteItem
	for i := range 48 {
		items = append(items, put(tables[0], fmt.Sprintf("u%02d", i), "attribute_not_exists(PK)"), put(tables[1], fmt.Sprintf("u%02d", i), ""))
	}
	failing := append(slices.Clone(items), put(tables[1], "taken", "attribute_not_exists(PK)"))
	_, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: failing})
	var cancelled *types.TransactionCanceledException
	if !errors.As(err, &cancelled) {
		t.Fatalf("TransactWriteItems(97 items, the last one's condition false) = %v, want TransactionCanceledException", err)
	}
	if a, b := count(tables[0]), count(tables[1]); a != 0 || b != 1 {
		t.Fatalf("after the cancelled transaction the tables hold %d and %d items, want 0 and 1", a, b)
	}
	if _, err := db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items}); err != nil {
		t.Fatalf("TransactWriteItems(96 items) error: %v", err)
	}
	if a, b := count(tables[0]), count(tables[1]); a != 48 || b != 49 {
		t.Errorf("after the transaction the tables hold %d and %d items, want 48 and 49", a, b)
	}
}
