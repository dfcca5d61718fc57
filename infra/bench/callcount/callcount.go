// Package callcount counts the AWS API calls an aws.Config's clients make,
// by service and operation, with an SDK middleware: for the bulk reset
// benchmarks (calls per 1,000 users) and the tests that hold the pipeline
// to its call budget.
package callcount

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// Counter counts calls. The zero value is ready to use.
type Counter struct {
	mu     sync.Mutex
	counts map[string]int // "<service>.<operation>"
	// spent is the wall time of each operation's calls, summed: where a
	// benchmark's time goes (which calls moto is slow at).
	spent map[string]time.Duration
	// rounds is the longest chain of calls so far, each started after
	// the one before it ended (see Rounds).
	rounds int
}

// Attach makes every client built from cfg afterwards count its calls
// (every attempt of an operation counts once, retries included, as AWS
// bills them) in c, and returns cfg.
func (c *Counter) Attach(cfg aws.Config) aws.Config {
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("rekeyCallCount",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				name := awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx)
				round := c.begin(name)
				start := time.Now()
				out, md, err := next.HandleFinalize(ctx, in)
				c.addTime(name, time.Since(start))
				c.end(round)
				return out, md, err
			}), middleware.After)
	})
	return cfg
}

// begin counts a call of name and returns its round: one more than the
// rounds of the calls that ended before it started.
func (c *Counter) begin(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[name]++
	return c.rounds + 1
}

// end records that a call of round round ended.
func (c *Counter) end(round int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rounds = max(c.rounds, round)
}

// Rounds is the number of sequential round trips since the last Reset:
// the longest chain of calls each of which started after the one before
// it ended. Calls made at once share a round; thirty calls through eight
// slots take at least four rounds, as they take at least four latencies.
// Multiplied by a service's latency per call, it estimates the wall time
// the calls would take there, however slow moto is.
func (c *Counter) Rounds() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rounds
}

func (c *Counter) addTime(name string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.spent == nil {
		c.spent = map[string]time.Duration{}
	}
	c.spent[name] += d
}

// Reset forgets every count, time and round.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts, c.spent, c.rounds = nil, nil, 0
}

// Times lists the wall time spent in each operation's calls (summed over
// calls made at once), sorted by name, for reports.
func (c *Counter) Times() string {
	c.mu.Lock()
	spent := maps.Clone(c.spent)
	c.mu.Unlock()
	names := slices.Sorted(maps.Keys(spent))
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = fmt.Sprintf("%s=%v", name, spent[name].Round(time.Millisecond))
	}
	return strings.Join(parts, " ")
}

// Snapshot returns the counts by "<service>.<operation>".
func (c *Counter) Snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// Total counts the calls whose service is not in excluded (e.g. "SESv2").
func (c *Counter) Total(excluded ...string) int {
	n := 0
	for name, count := range c.Snapshot() {
		service, _, _ := strings.Cut(name, ".")
		if !slices.Contains(excluded, service) {
			n += count
		}
	}
	return n
}

// Of counts the calls of one service and operation, e.g. "SESv2.SendEmail".
func (c *Counter) Of(name string) int { return c.Snapshot()[name] }

// String lists the counts, sorted, for logs and reports.
func (c *Counter) String() string {
	snap := c.Snapshot()
	names := slices.Sorted(maps.Keys(snap))
	parts := make([]string, len(names))
	for i, name := range names {
		parts[i] = fmt.Sprintf("%s=%d", name, snap[name])
	}
	return strings.Join(parts, " ")
}
