package lambdalocal

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/rekey/rekey/infra/moto/mototest"
	"github.com/rekey/rekey/infra/stack"
)

func TestMain(m *testing.M) { mototest.Main(m) }

// TestEveryFunctionUnderEmulator is `make lambda-local` under `make test`:
// each function's binary, booted by aws-lambda-rie, answers its sample
// event as it should.
func TestEveryFunctionUnderEmulator(t *testing.T) {
	template, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	results, err := Run(context.Background(), Options{Root: filepath.Dir(template), Progress: func(step string) { t.Log(step) }})
	if err != nil {
		t.Fatal(err)
	}
	functions, err := functionNames(filepath.Dir(template))
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != len(functions) {
		t.Errorf("ran %d functions, want all %d of functions/", len(results), len(functions))
	}
	for _, r := range results {
		if r.Err != nil {
			t.Error(r)
		} else {
			t.Log(r)
		}
	}
}

func TestEveryFunctionHasACheck(t *testing.T) {
	template, err := stack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	functions, err := functionNames(filepath.Dir(template))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range functions {
		if _, ok := checks[name]; !ok {
			t.Errorf("functions/%s has no entry in checks", name)
		}
	}
	for name := range checks {
		found := false
		for _, f := range functions {
			found = found || f == name
		}
		if !found {
			t.Errorf("checks has an entry for %s, which is not under functions/", name)
		}
	}
}

func TestReportParsing(t *testing.T) {
	log := "01 Dec 2026 21:05:40,637 [INFO] (rapid) INIT REPORT(durationMs: 86.577000)\n" +
		"START RequestId: d9 Version: $LATEST\n" +
		"REPORT RequestId: d937593b-a188\tInit Duration: 0.05 ms\tDuration: 430.37 ms\tBilled Duration: 431 ms\tMemory Size: 512 MB\t\n"
	initM, invokeM := initReport.FindStringSubmatch(log), invokeReport.FindStringSubmatch(log)
	if initM == nil || invokeM == nil || initM[1] != "86.577000" || invokeM[1] != "430.37" {
		t.Errorf("init %v, invoke %v; want 86.577000 and 430.37", initM, invokeM)
	}
}
