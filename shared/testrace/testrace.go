// Package testrace runs the same call from many goroutines at once, for
// tests of what must happen exactly once (a reset link redeemed by racing
// requests, a conditional write claimed by racing writers).
package testrace

import "sync"

// Count calls f(0) … f(n-1) concurrently and waits for them all. It returns
// how many calls succeeded and the errors that refused does not accept as
// the expected refusal of a loser (in the order they came).
func Count(n int, f func(i int) error, refused func(error) bool) (successes int, unexpected []error) {
	var (
		wg sync.WaitGroup
		mu sync.Mutex
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := f(i)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				successes++
			case !refused(err):
				unexpected = append(unexpected, err)
			}
		}()
	}
	wg.Wait()
	return successes, unexpected
}
