package mototest

import (
	"context"
	"os"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
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
