package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/bulk/envelope/kmskeys"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
)

// passwordDeliveries are the deliveries of the password work queue.
var passwordDeliveries = []rekey.DeliveryMode{rekey.DeliverDefaultPassword, rekey.DeliverGeneratedPasswords}

// benchArchitectures measures the worker's CPU per user on one core for
// each password delivery, twice: built as usual (amd64: x/crypto's argon2
// runs its assembly, as on Lambda x86_64) and with -tags purego (the pure
// Go code, which is what arm64 runs). Each is a child `go run` of this
// command with GOMAXPROCS=1, so that one core is one Lambda vCPU.
func benchArchitectures(ctx context.Context, users int, m *measured) error {
	if runtime.GOARCH != "amd64" {
		note("architectures: this machine is %s, not amd64: the assembly figure is not x86_64's", runtime.GOARCH)
	}
	for _, build := range []struct{ arch, tags, label string }{
		{"x86_64", "", "amd64_asm"},
		{"arm64", "purego", "purego"},
	} {
		args := []string{"run"}
		if build.tags != "" {
			args = append(args, "-tags", build.tags)
		}
		args = append(args, "./infra/bench", "-user-cpu", strconv.Itoa(users))
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
		cmd.Stderr = os.Stderr
		out, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("go %s: %w", strings.Join(args, " "), err)
		}
		m.cpuMsPerUser[build.arch] = map[rekey.DeliveryMode]float64{}
		scanner := bufio.NewScanner(bytes.NewReader(out))
		for scanner.Scan() {
			fields := strings.Fields(scanner.Text())
			if len(fields) != 3 || fields[0] != "USERCPU" {
				continue
			}
			ms, err := strconv.ParseFloat(fields[2], 64)
			if err != nil {
				return fmt.Errorf("user cpu: %q: %w", scanner.Text(), err)
			}
			if fields[1] == "argon2id_hash" {
				bench("argon2id_cpu_ms_1vcpu_"+build.label, ms, "ms")
				continue
			}
			m.cpuMsPerUser[build.arch][rekey.DeliveryMode(fields[1])] = ms
			bench(fields[1]+"_cpu_ms_per_user_1vcpu_"+build.label, ms, "ms")
		}
	}
	return nil
}

// printUserCPU is the child of benchArchitectures: it prints
// "USERCPU <what> <ms>" lines (one argon2id hash; the worker's whole path
// per user of each password delivery) measured in CPU time.
func printUserCPU(ctx context.Context, users int) error {
	h := password.Hasher{}
	const hashes = 8
	cpu0 := cpuTime()
	for range hashes {
		if _, err := h.Hash("purple otters juggle quietly"); err != nil {
			return err
		}
	}
	fmt.Printf("USERCPU argon2id_hash %.2f\n", float64(cpuTime()-cpu0)/float64(time.Millisecond)/hashes)
	for _, mode := range passwordDeliveries {
		store, work, worker, err := synthPipeline(ctx, users, mode, 1)
		if err != nil {
			return err
		}
		cpu0 := cpuTime()
		if err := runWorkers(ctx, work, worker); err != nil {
			return err
		}
		cpu := cpuTime() - cpu0
		if t := store.task.Task; t.Processed != users || t.Succeeded != users {
			return fmt.Errorf("user cpu: %s task %+v, want %d passwords set", mode, t, users)
		}
		fmt.Printf("USERCPU %s %.2f\n", mode, float64(cpu)/float64(time.Millisecond)/float64(users))
	}
	return nil
}

// synthPipeline plans a task of users users of delivery mode on an
// in-memory store and returns it with its work queue and workers workers
// (production argon2id cost).
func synthPipeline(ctx context.Context, users int, mode rekey.DeliveryMode, workers int) (*synthStore, *memQueue, []*bulk.Worker, error) {
	del := rekey.Delivery{Mode: mode}
	if mode == rekey.DeliverDefaultPassword {
		del.DefaultPassword = "purple otters juggle quietly"
	}
	rec := synthTask(del)
	store := newSynthStore(users, rec)
	keys := kmskeys.New(localKMS{}, "bench")
	secrets, err := bulk.NewSecrets(ctx, keys, rec.Task.ID, del, time.Now())
	if err != nil {
		return nil, nil, nil, err
	}
	store.secrets = *secrets
	work, plans := &memQueue{}, &memQueue{}
	cfg := bulk.Config{PublicBaseURL: "https://console.example.org", WorkerConcurrency: workers}
	planner, err := bulk.NewPlanner(cfg, bulk.PlannerDeps{Store: store, Work: work, Plans: plans})
	if err != nil {
		return nil, nil, nil, err
	}
	if err := planner.Plan(ctx, rec.Task.ID); err != nil {
		return nil, nil, nil, err
	}
	var ws []*bulk.Worker
	for range workers {
		w, err := bulk.NewWorker(cfg, bulk.WorkerDeps{Store: store, Work: work, Keys: keys, Notices: nopNotices{}, Mailer: &nopMailer{}, Hasher: password.Hasher{}})
		if err != nil {
			return nil, nil, nil, err
		}
		ws = append(ws, w)
	}
	return store, work, ws, nil
}

// benchPipeline runs many workers at once over one default-password task
// on the in-memory store, at production argon2id cost: the whole worker
// path (reads, policy, hash, transactions, notices) with no network, as
// users per second per core. Per core is users per CPU-second, which holds
// on a shared machine; the wall-clock rate is noted.
func benchPipeline(ctx context.Context, users, workers int) error {
	store, work, ws, err := synthPipeline(ctx, users, rekey.DeliverDefaultPassword, workers)
	if err != nil {
		return err
	}
	cpu0, wall0 := cpuTime(), time.Now()
	if err := runWorkers(ctx, work, ws); err != nil {
		return err
	}
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	if t := store.task.Task; t.Processed != users || t.Succeeded != users {
		return fmt.Errorf("pipeline: task %+v, want %d passwords set", t, users)
	}
	bench("password_pipeline_users_per_second_per_core", float64(users)/cpu.Seconds(), "users/s")
	note("pipeline: %d default-password users, %d workers in parallel on %d cores: %v wall (%.1f users/s, %.1f per core by the wall clock), %v CPU",
		users, workers, runtime.GOMAXPROCS(0), wall.Round(time.Millisecond), float64(users)/wall.Seconds(),
		float64(users)/wall.Seconds()/float64(runtime.GOMAXPROCS(0)), cpu.Round(time.Millisecond))
	return nil
}
