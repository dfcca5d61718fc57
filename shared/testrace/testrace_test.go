package testrace

import (
	"errors"
	"sync"
	"testing"
)

func TestCount(t *testing.T) {
	errLost, errOdd := errors.New("lost"), errors.New("odd")
	var (
		mu    sync.Mutex
		taken bool
	)
	once := func(i int) error {
		if i == 5 {
			return errOdd
		}
		mu.Lock()
		defer mu.Unlock()
		if taken {
			return errLost
		}
		taken = true
		return nil
	}
	successes, unexpected := Count(8, once, func(err error) bool { return errors.Is(err, errLost) })
	if successes != 1 || len(unexpected) != 1 || unexpected[0] != errOdd {
		t.Errorf("Count = %d, %v; want 1 success and the one unexpected error %v", successes, unexpected, errOdd)
	}
}
