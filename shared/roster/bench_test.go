package roster

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// BenchmarkImport reads and plans a generated OneRoster bundle of 50,000
// users (and 10,000, to show the cost grows with the rows and no faster):
// "new" against an empty district (all creates), "reimport" against the
// district that import made (all unchanged, every row matched). Besides
// time and allocated bytes it reports cpu-ms/op (the process's CPU time,
// GC included: wall time means little on a shared machine), live-MB, the
// heap a File and its Result hold (a plan's footprint), and live-B/row.
func BenchmarkImport(b *testing.B) {
	for _, n := range []int{10_000, 50_000} {
		var buf bytes.Buffer
		if err := GenerateBundle(&buf, n, 40); err != nil {
			b.Fatal(err)
		}
		data := buf.Bytes()
		fresh := newDirectory(nil)
		first, err := importOnce(data, fresh)
		if err != nil {
			b.Fatal(err)
		}
		full := newDirectory(nil)
		full.apply(b, district, first)
		for _, c := range []struct {
			name string
			dir  *memDirectory
		}{{"new", fresh}, {"reimport", full}} {
			b.Run(fmt.Sprintf("%s/users=%d", c.name, n), func(b *testing.B) {
				b.ReportAllocs()
				var res *Result
				cpu0 := cpuTime()
				for b.Loop() {
					if res, err = importOnce(data, c.dir); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64((cpuTime()-cpu0)/time.Millisecond)/float64(b.N), "cpu-ms/op")
				want := n
				if c.name == "new" && res.Summary.Create != want || c.name == "reimport" && res.Summary.Unchanged != want {
					b.Fatalf("summary %+v, want %d rows", res.Summary, want)
				}
				res = nil
				var ms runtime.MemStats
				runtime.GC()
				runtime.ReadMemStats(&ms)
				base := ms.HeapAlloc
				f, _ := ReadBundle(bytes.NewReader(data), int64(len(data)), Limits{})
				res, _ = Plan(context.Background(), f, c.dir, districtAdmin)
				runtime.GC()
				runtime.ReadMemStats(&ms)
				live := ms.HeapAlloc - base
				runtime.KeepAlive(f)
				runtime.KeepAlive(res)
				b.ReportMetric(float64(live)/(1<<20), "live-MB")
				b.ReportMetric(float64(live)/float64(n), "live-B/row")
			})
		}
	}
}

// cpuTime is the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func importOnce(data []byte, dir Directory) (*Result, error) {
	f, err := ReadBundle(bytes.NewReader(data), int64(len(data)), Limits{})
	if err != nil {
		return nil, err
	}
	if f.IssueCount != 0 {
		return nil, fmt.Errorf("issues: %+v", f.Issues[:min(5, len(f.Issues))])
	}
	res, err := Plan(context.Background(), f, dir, districtAdmin)
	if err != nil {
		return nil, err
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("%w: %+v", err, res.Summary.Errors[:min(5, len(res.Summary.Errors))])
	}
	return res, nil
}
