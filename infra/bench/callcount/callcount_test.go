package callcount

import (
	"testing"
	"time"
)

// Times sums each operation's call time, sorted by name, and Reset forgets
// it with the counts: the import bench reports where its time went.
func TestTimes(t *testing.T) {
	var c Counter
	c.addTime("DynamoDB.Query", 1500*time.Microsecond)
	c.addTime("DynamoDB.Query", 500*time.Microsecond)
	c.addTime("DynamoDB.BatchGetItem", time.Second)
	if got, want := c.Times(), "DynamoDB.BatchGetItem=1s DynamoDB.Query=2ms"; got != want {
		t.Errorf("Times() = %q, want %q", got, want)
	}
	c.add("DynamoDB.Query")
	c.Reset()
	if got := c.Times(); got != "" || c.Total() != 0 {
		t.Errorf("after Reset: Times() = %q, Total() = %d; want nothing", got, c.Total())
	}
}
