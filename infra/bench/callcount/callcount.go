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

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// Counter counts calls. The zero value is ready to use.
type Counter struct {
	mu     sync.Mutex
	counts map[string]int // "<service>.<operation>"
}

// Attach makes every client built from cfg afterwards count its calls
// (every attempt of an operation counts once, retries included, as AWS
// bills them) in c, and returns cfg.
func (c *Counter) Attach(cfg aws.Config) aws.Config {
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("rekeyCallCount",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				c.add(awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx))
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	})
	return cfg
}

func (c *Counter) add(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[name]++
}

// Reset forgets every count.
func (c *Counter) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.counts = nil
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
