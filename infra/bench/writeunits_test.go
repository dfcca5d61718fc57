package main

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TestItemSize: item sizes as DynamoDB bills them, which the write units
// per user (and so the AWS model) are priced from.
func TestItemSize(t *testing.T) {
	for _, test := range []struct {
		name string
		item map[string]types.AttributeValue
		want int
	}{
		{"string", map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: "USER#1"}}, 2 + 6},
		{"number", map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: "123"}}, 1 + 3},
		{"binary and bool", map[string]types.AttributeValue{"b": &types.AttributeValueMemberB{Value: make([]byte, 40)}, "ok": &types.AttributeValueMemberBOOL{Value: true}}, 1 + 40 + 2 + 1},
		{"list", map[string]types.AttributeValue{"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "ab"}}}}, 1 + 3 + 1 + 2},
		{"map", map[string]types.AttributeValue{"m": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"k": &types.AttributeValueMemberS{Value: "v"}}}}, 1 + 3 + 1 + 1 + 1},
		{"string set", map[string]types.AttributeValue{"ss": &types.AttributeValueMemberSS{Value: []string{"ab", "cde"}}}, 2 + 2 + 3},
		{"binary set", map[string]types.AttributeValue{"bs": &types.AttributeValueMemberBS{Value: [][]byte{make([]byte, 4), make([]byte, 5)}}}, 2 + 4 + 5},
		{"a hash", map[string]types.AttributeValue{"passwordHash": &types.AttributeValueMemberS{Value: strings.Repeat("x", 97)}}, 12 + 97},
	} {
		t.Run(test.name, func(t *testing.T) {
			if got := itemSize(test.item); got != test.want {
				t.Errorf("itemSize(%s) = %d, want %d", test.name, got, test.want)
			}
		})
	}
}

func TestSortKind(t *testing.T) {
	key := func(pk, sk string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"PK": &types.AttributeValueMemberS{Value: pk}, "SK": &types.AttributeValueMemberS{Value: sk}}
	}
	for _, test := range []struct{ pk, sk, want string }{
		{"USER#u1", "USER", "USER"},
		{"AUDIT#u1", "2026-12-01T00:00:00Z#x", "AUDIT"},
		{"TASK#t1", "CHUNK#0003", "TASK/CHUNK"},
		{"TASK#t1", "TASK", "TASK/TASK"},
	} {
		if got := sortKind(key(test.pk, test.sk)); got != test.want {
			t.Errorf("sortKind(%s, %s) = %q, want %q", test.pk, test.sk, got, test.want)
		}
	}
}
