package callcount

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
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
	c.end(c.begin("DynamoDB.Query"))
	c.Reset()
	if got := c.Times(); got != "" || c.Total() != 0 || c.Rounds() != 0 {
		t.Errorf("after Reset: Times() = %q, Total() = %d, Rounds() = %d; want nothing", got, c.Total(), c.Rounds())
	}
}

// Rounds is the longest chain of calls each started after another ended:
// calls at once share a round, calls one after another each take one.
func TestRounds(t *testing.T) {
	for _, test := range []struct {
		name string
		// events: "+x" starts call x, "-x" ends it.
		events string
		want   int
	}{
		{"none", "", 0},
		{"one after another", "+a -a +b -b +c -c", 3},
		{"all at once", "+a +b +c -b -a -c", 1},
		{"two slots, five calls", "+a +b -a -b +c +d -c -d +e -e", 3},
		{"a call started while its predecessor's peer runs", "+a +b -a +c -b -c", 2},
		{"a slot running ahead", "+a +b -a +c -c +d -d -b +e -e", 4},
		{"a call still running when the next starts", "+a +b -b +c -c -a", 2},
	} {
		t.Run(test.name, func(t *testing.T) {
			var c Counter
			rounds := map[string]int{}
			for _, e := range strings.Fields(test.events) {
				if e[0] == '+' {
					rounds[e[1:]] = c.begin("DynamoDB.GetItem")
				} else {
					c.end(rounds[e[1:]])
				}
			}
			if got := c.Rounds(); got != test.want {
				t.Errorf("Rounds() after %q = %d, want %d", test.events, got, test.want)
			}
		})
	}
}

// Attach counts the rounds of real SDK calls: three calls held until all
// three are in flight share a round, and two calls after them take one
// each.
func TestAttachCountsRounds(t *testing.T) {
	transport := &barrierTransport{waiting: 3, release: make(chan struct{})}
	var c Counter
	cfg := c.Attach(aws.Config{
		Region:           "us-east-1",
		Credentials:      aws.AnonymousCredentials{},
		HTTPClient:       &http.Client{Transport: transport},
		BaseEndpoint:     aws.String("http://dynamodb.invalid"),
		RetryMaxAttempts: 1,
	})
	db := dynamodb.NewFromConfig(cfg)
	get := func() error {
		_, err := db.DescribeLimits(t.Context(), &dynamodb.DescribeLimitsInput{})
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range 3 {
		wg.Go(func() { errs[i] = get() })
	}
	wg.Wait()
	for i := range 2 {
		if err := get(); err != nil {
			t.Fatalf("call %d after the three: %v", i, err)
		}
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent call %d: %v", i, err)
		}
	}
	if got := c.Of("DynamoDB.DescribeLimits"); got != 5 {
		t.Errorf("calls = %d, want 5", got)
	}
	if got := c.Rounds(); got != 3 {
		t.Errorf("Rounds() = %d, want 3 (three calls at once, then two one after another)", got)
	}
}

// barrierTransport answers every request with an empty JSON object, the
// first waiting ones only once that many are in flight.
type barrierTransport struct {
	mu      sync.Mutex
	waiting int
	release chan struct{}
}

func (b *barrierTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	b.mu.Lock()
	hold := b.waiting > 0
	if hold {
		if b.waiting--; b.waiting == 0 {
			close(b.release)
		}
	}
	b.mu.Unlock()
	if hold {
		select {
		case <-b.release:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body: io.NopCloser(strings.NewReader("{}")), Request: req}, nil
}
