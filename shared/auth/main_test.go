package auth

import (
	"testing"

	"github.com/rekey/rekey/infra/moto/mototest"
)

// The unit tests use fakes; the tests in dynamo_test.go run the service on
// the real DynamoDB store in moto, which this starts once for the package.
func TestMain(m *testing.M) { mototest.Main(m) }
