package stack_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/rekey/rekey/infra/moto/mototest"
	"github.com/rekey/rekey/infra/stack"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// ignoreSDKInternals skips the SDK types' unexported no-serde markers.
var ignoreSDKInternals = cmpopts.IgnoreUnexported(
	dynamodb.CreateTableInput{}, types.AttributeDefinition{}, types.KeySchemaElement{},
	types.GlobalSecondaryIndex{}, types.Projection{}, types.ProvisionedThroughput{},
)

func key(name string, typ types.KeyType) types.KeySchemaElement {
	return types.KeySchemaElement{AttributeName: aws.String(name), KeyType: typ}
}

func attr(name string, typ types.ScalarAttributeType) types.AttributeDefinition {
	return types.AttributeDefinition{AttributeName: aws.String(name), AttributeType: typ}
}

func TestTableInputsFromRepositoryTemplate(t *testing.T) {
	path, err := stack.FindTemplate()
	if err != nil {
		t.Fatalf("FindTemplate() error: %v", err)
	}
	if filepath.Base(path) != "template.yaml" {
		t.Fatalf("FindTemplate() = %q, want a template.yaml", path)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "go.mod")); err != nil {
		t.Fatalf("FindTemplate() = %q, not beside go.mod: %v", path, err)
	}
	inputs, err := stack.TableInputs(path)
	if err != nil {
		t.Fatalf("TableInputs(%q) error: %v", path, err)
	}
	all := &types.Projection{ProjectionType: types.ProjectionTypeAll}
	want := map[string]*dynamodb.CreateTableInput{
		"Table": {
			BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{
				attr("PK", types.ScalarAttributeTypeS), attr("SK", types.ScalarAttributeTypeS),
				attr("GSI1PK", types.ScalarAttributeTypeS), attr("GSI1SK", types.ScalarAttributeTypeS),
				attr("GSI2PK", types.ScalarAttributeTypeS), attr("GSI2SK", types.ScalarAttributeTypeS),
			},
			KeySchema: []types.KeySchemaElement{key("PK", types.KeyTypeHash), key("SK", types.KeyTypeRange)},
			GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
				{
					IndexName:  aws.String("GSI1"),
					KeySchema:  []types.KeySchemaElement{key("GSI1PK", types.KeyTypeHash), key("GSI1SK", types.KeyTypeRange)},
					Projection: all,
				},
				{
					IndexName:  aws.String("GSI2"),
					KeySchema:  []types.KeySchemaElement{key("GSI2PK", types.KeyTypeHash), key("GSI2SK", types.KeyTypeRange)},
					Projection: all,
				},
			},
		},
	}
	if diff := cmp.Diff(want, inputs, ignoreSDKInternals); diff != "" {
		t.Errorf("TableInputs(%q) mismatch (-want +got):\n%s", path, diff)
	}
}

func TestTableInputsShortTags(t *testing.T) {
	for _, test := range []struct {
		file    string
		want    map[string]*dynamodb.CreateTableInput
		wantErr string
	}{
		{
			file: "testdata/intrinsics.yaml",
			want: map[string]*dynamodb.CreateTableInput{
				"Orders": {
					ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(5), WriteCapacityUnits: aws.Int64(2)},
					AttributeDefinitions:  []types.AttributeDefinition{attr("id", types.ScalarAttributeTypeS), attr("at", types.ScalarAttributeTypeN)},
					KeySchema:             []types.KeySchemaElement{key("id", types.KeyTypeHash)},
					GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
						IndexName:             aws.String("ByTime"),
						KeySchema:             []types.KeySchemaElement{key("at", types.KeyTypeHash)},
						Projection:            &types.Projection{ProjectionType: types.ProjectionTypeInclude, NonKeyAttributes: []string{"total"}},
						ProvisionedThroughput: &types.ProvisionedThroughput{ReadCapacityUnits: aws.Int64(1), WriteCapacityUnits: aws.Int64(1)},
					}},
				},
			},
		},
		{file: "testdata/intrinsic-billing.yaml", wantErr: "!If"},
		{file: "testdata/missing.yaml", wantErr: "no such file"},
	} {
		t.Run(test.file, func(t *testing.T) {
			got, err := stack.TableInputs(test.file)
			if test.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), test.wantErr) {
					t.Fatalf("TableInputs(%q) error = %v, want one containing %q", test.file, err, test.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("TableInputs(%q) error: %v", test.file, err)
			}
			if diff := cmp.Diff(test.want, got, ignoreSDKInternals); diff != "" {
				t.Errorf("TableInputs(%q) mismatch (-want +got):\n%s", test.file, diff)
			}
		})
	}
}

func TestCreateTables(t *testing.T) {
	ctx := context.Background()
	db := dynamodb.NewFromConfig(mototest.Config(t))
	path, err := stack.FindTemplate()
	if err != nil {
		t.Fatalf("FindTemplate() error: %v", err)
	}
	names := map[string]string{"Table": "stack-create-tables"}
	if err := stack.CreateTables(ctx, db, path, names); err != nil {
		t.Fatalf("CreateTables() error: %v", err)
	}
	t.Cleanup(func() {
		_, _ = db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String("stack-create-tables")})
	})

	described, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("stack-create-tables")})
	if err != nil {
		t.Fatalf("DescribeTable() error: %v", err)
	}
	if got := described.Table.TableStatus; got != types.TableStatusActive {
		t.Errorf("table status = %v, want %v", got, types.TableStatusActive)
	}
	var indexes []string
	for _, g := range described.Table.GlobalSecondaryIndexes {
		indexes = append(indexes, aws.ToString(g.IndexName))
	}
	if diff := cmp.Diff([]string{"GSI1", "GSI2"}, indexes, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("GSIs mismatch (-want +got):\n%s", diff)
	}
	ttl, err := db.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String("stack-create-tables")})
	if err != nil {
		t.Fatalf("DescribeTimeToLive() error: %v", err)
	}
	if got := ttl.TimeToLiveDescription; got == nil || aws.ToString(got.AttributeName) != "ttl" ||
		got.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Errorf("time to live = %+v, want attribute ttl enabled", got)
	}

	if err := stack.CreateTables(ctx, db, path, names); err != nil {
		t.Errorf("CreateTables() on existing table error: %v, want nil", err)
	}
	err = stack.CreateTables(ctx, db, path, map[string]string{"NoSuchTable": "x-table"})
	if err == nil || !strings.Contains(err.Error(), "NoSuchTable") {
		t.Errorf("CreateTables(unknown logical id) error = %v, want one naming NoSuchTable", err)
	}
	var notFound *types.ResourceNotFoundException
	if _, err := db.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String("x-table")}); !errors.As(err, &notFound) {
		t.Errorf("DescribeTable(x-table) error = %v, want ResourceNotFoundException", err)
	}
}
