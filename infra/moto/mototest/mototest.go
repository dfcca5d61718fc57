// Package mototest gives integration tests one moto_server per test package
// and a fresh DynamoDB table, created from template.yaml, per test.
//
//	func TestMain(m *testing.M) { mototest.Main(m) }
package mototest

import (
	"github.com/rekey/rekey/infra/moto"

	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/rekey/rekey/infra/stack"
)

// tableLogicalID is the template resource that Table creates.
const tableLogicalID = "Table"

// Main starts one moto_server for the test package (or uses AWS_ENDPOINT_URL
// when it is already set), points the AWS SDK at it through the environment
// (AWS_ENDPOINT_URL, AWS_REGION=us-east-1 and dummy credentials, so tests can
// never reach real AWS), runs m and stops moto. When moto_server is missing
// the tests fail rather than skip.
func Main(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	endpoint := os.Getenv("AWS_ENDPOINT_URL")
	if endpoint == "" {
		// Start bounds its own wait for moto_server to answer.
		server, err := moto.Start(context.Background())
		if err != nil {
			fmt.Fprintf(os.Stderr, "mototest: integration tests need moto_server: %v\n", err)
			return 1
		}
		defer func() {
			if err := server.Stop(); err != nil {
				fmt.Fprintf(os.Stderr, "mototest: %v\n", err)
			}
		}()
		endpoint = server.Endpoint()
	}
	if err := moto.UseEndpoint(endpoint); err != nil {
		fmt.Fprintf(os.Stderr, "mototest: %v\n", err)
		return 1
	}
	return m.Run()
}

// Config returns an aws.Config for the running moto; config.LoadDefaultConfig
// picks the endpoint up from AWS_ENDPOINT_URL. It fails the test when Main
// has not run.
func Config(t testing.TB) aws.Config {
	t.Helper()
	if os.Getenv("AWS_ENDPOINT_URL") == "" {
		t.Fatal("mototest: AWS_ENDPOINT_URL is not set; call mototest.Main from TestMain")
	}
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		t.Fatalf("mototest: load AWS config: %v", err)
	}
	return cfg
}

// Table creates a fresh, uniquely named table from template.yaml's Table
// resource for one test, deletes it when the test ends, and returns its name.
func Table(t testing.TB, cfg aws.Config) string {
	t.Helper()
	path, err := stack.FindTemplate()
	if err != nil {
		t.Fatalf("mototest: %v", err)
	}
	name := tableName(t.Name())
	db := dynamodb.NewFromConfig(cfg)
	ctx := context.Background()
	if err := stack.CreateTables(ctx, db, path, map[string]string{tableLogicalID: name}); err != nil {
		t.Fatalf("mototest: %v", err)
	}
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)})
	})
	return name
}

var unsafeTableChars = regexp.MustCompile(`[^a-zA-Z0-9_.-]+`)

// tableName makes a valid, unique DynamoDB table name that still says which
// test it belongs to.
func tableName(testName string) string {
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	base := strings.Trim(unsafeTableChars.ReplaceAllString(testName, "-"), "-")
	if len(base) > 200 {
		base = base[:200]
	}
	return "test-" + base + "-" + hex.EncodeToString(suffix)
}
