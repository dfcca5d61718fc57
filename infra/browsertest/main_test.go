package browsertest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rekey/rekey/infra/devstack"
	infrastack "github.com/rekey/rekey/infra/stack"
	"github.com/rekey/rekey/shared/password"
)

// demoPassword is every seeded account's password.
const demoPassword = "correct horse battery staple"

// studentsPerSchool keeps the district small (three schools: 90 students,
// more than one page of 50; one school fewer than a page) so seeding and
// bulk resets stay quick, while leaving school 1 students enough for every
// test that claims one (claimStudent).
const studentsPerSchool = 30

// threshold is the demo district's approval threshold for bulk resets: 0
// (off) except while the approval test, which runs alone, raises it.
type threshold struct{ atomic.Int64 }

func (th *threshold) ApprovalThreshold(context.Context, string) (int, error) {
	return int(th.Load()), nil
}

// Shared by every test of the package: one system and one browser.
var (
	approvalThreshold threshold
	stack             *devstack.Stack
	// shared is the browser; each test opens its own tab in it.
	shared context.Context
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// The tests mostly wait on the system (pages loading, the mail queue,
	// polling), so four run at once even on two cores, unless -parallel says.
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		flag.Set("test.parallel", "4")
	}
	chromium, err := findChromium()
	if err != nil {
		fmt.Fprintf(os.Stderr, "browsertest: %v\n", err)
		return 1
	}
	ctx := context.Background()
	stack, err = devstack.Start(ctx, devstack.Options{
		Addr:              "127.0.0.1:0",
		DemoPassword:      demoPassword,
		StudentsPerSchool: studentsPerSchool,
		// A cheap hash keeps seeding and sign-ins fast; the production cost
		// is tested in shared/password.
		Hasher:    password.Hasher{Params: password.Params{Memory: 64, Iterations: 1, Parallelism: 1}},
		Approvals: &approvalThreshold,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "browsertest: start the local stack: %v\n", err)
		return 1
	}
	defer func() {
		if err := stack.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "browsertest: close the local stack: %v\n", err)
		}
	}()

	profile, err := os.MkdirTemp("", "rekey-chromium-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "browsertest: %v\n", err)
		return 1
	}
	defer os.RemoveAll(profile)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(profile),
		chromedp.NoSandbox,
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.WindowSize(desktopWidth, desktopHeight),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", "en-US"),
	)
	defer cancelAlloc()
	var cancelBrowser context.CancelFunc
	shared, cancelBrowser = chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	// Starting chromium takes a second on an idle machine and much longer
	// on a busy one: wait generously, but not for ever.
	const startLimit = 2 * time.Minute
	start, cancelStart := context.WithTimeout(ctx, startLimit)
	defer cancelStart()
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(shared) }()
	select {
	case err = <-started:
	case <-start.Done():
		err = fmt.Errorf("chromium did not start within %s", startLimit)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "browsertest: start %s: %v\n", chromium, err)
		return 1
	}
	return m.Run()
}

// findChromium returns the browser to drive: $REKEY_CHROMIUM, else
// chromium on PATH, else /usr/bin/chromium.
func findChromium() (string, error) {
	if p := os.Getenv("REKEY_CHROMIUM"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	const debian = "/usr/bin/chromium"
	if _, err := os.Stat(debian); err == nil {
		return debian, nil
	}
	return "", errors.New("chromium is missing: the browser tests need it; install it with `apt-get install -y chromium` (make test does this)")
}

// repoRoot is the repository's root, the folder of template.yaml, which
// infra/stack.FindTemplate finds upwards from the package directory (where
// `go test` runs).
func repoRoot(t *testing.T) string {
	t.Helper()
	template, err := infrastack.FindTemplate()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(template)
}
