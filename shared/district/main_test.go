package district

import (
	"testing"

	"github.com/rekey/rekey/infra/moto/mototest"
)

// The tests run the service on the in-memory store and on the DynamoDB
// store in moto, which this starts once for the package.
func TestMain(m *testing.M) { mototest.Main(m) }
