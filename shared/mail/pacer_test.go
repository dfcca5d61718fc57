package mail

import (
	"testing"
	"time"
)

func TestPacer(t *testing.T) {
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	p := NewPacer(4, func() time.Time { return now }) // a slot every 250 ms
	for i, want := range []time.Duration{0, 250 * time.Millisecond, 500 * time.Millisecond} {
		if got := p.Reserve(); got != want {
			t.Errorf("Reserve() #%d = %v, want %v", i+1, got, want)
		}
	}
	if got, want := p.Due(), 750*time.Millisecond; got != want {
		t.Errorf("Due() = %v, want %v", got, want)
	}
	now = now.Add(2 * time.Second) // idle: slots are not saved up
	if got := p.Reserve(); got != 0 {
		t.Errorf("Reserve() after a pause = %v, want 0", got)
	}
	p.BackOff(3 * time.Second)
	if got, want := p.Due(), 3*time.Second; got != want {
		t.Errorf("Due() after BackOff(3s) = %v, want %v", got, want)
	}
	p.BackOff(time.Second) // a shorter back-off never brings the slot nearer
	if got, want := p.Reserve(), 3*time.Second; got != want {
		t.Errorf("Reserve() after a shorter BackOff = %v, want %v", got, want)
	}
}
