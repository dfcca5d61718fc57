package mail

import (
	"sync"
	"time"
)

// Pacer spaces one sender's emails evenly at its share of the SES account's
// sending rate, so that all senders together stay under the rate and SES
// throttling stays the exception. It only books slots; the caller waits
// (so that tests and callers near a deadline decide how).
type Pacer struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
	now      func() time.Time
}

// NewPacer paces at rate emails per second by the clock now (time.Now when
// nil).
func NewPacer(rate float64, now func() time.Time) *Pacer {
	if now == nil {
		now = time.Now
	}
	return &Pacer{interval: time.Duration(float64(time.Second) / rate), now: now}
}

// Reserve books the next slot and returns how long to wait for it.
func (p *Pacer) Reserve() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	if p.next.Before(now) {
		p.next = now
	}
	at := p.next
	p.next = p.next.Add(p.interval)
	return at.Sub(now)
}

// Due is how long the next email would wait for its slot, booking nothing.
func (p *Pacer) Due() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return max(p.next.Sub(p.now()), 0)
}

// BackOff keeps the next slot at least d away, after SES throttled a send.
func (p *Pacer) BackOff(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if later := p.now().Add(d); later.After(p.next) {
		p.next = later
	}
}
