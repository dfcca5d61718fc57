package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/rekey/rekey/shared/bulk"
	"github.com/rekey/rekey/shared/bulk/envelope/kmskeys"
	"github.com/rekey/rekey/shared/password"
	"github.com/rekey/rekey/shared/rekey"
)

// benchCPU measures what a default-password user costs at production
// argon2id parameters (m=19 MiB, t=2, p=1): one hash on its own, and the
// worker's whole path (policy check, hash, record) per user, in CPU time.
func benchCPU(ctx context.Context, users int) error {
	h := password.Hasher{}
	cpu0, wall0 := cpuTime(), time.Now()
	for range 8 {
		if _, err := h.Hash("purple otters juggle quietly"); err != nil {
			return err
		}
	}
	bench("argon2id_hash_cpu_ms", float64(cpuTime()-cpu0)/float64(time.Millisecond)/8, "ms")
	bench("argon2id_hash_wall_ms", float64(time.Since(wall0))/float64(time.Millisecond)/8, "ms")

	del := rekey.Delivery{Mode: rekey.DeliverDefaultPassword, DefaultPassword: "purple otters juggle quietly"}
	rec := synthTask(del)
	store := newSynthStore(users, rec)
	keys := kmskeys.New(localKMS{}, "bench")
	secrets, err := bulk.NewSecrets(ctx, keys, rec.Task.ID, del, time.Now())
	if err != nil {
		return err
	}
	store.secrets = *secrets
	work, plans := &memQueue{}, &memQueue{}
	cfg := bulk.Config{PublicBaseURL: "https://console.example.org", WorkerConcurrency: 1}
	planner, err := bulk.NewPlanner(cfg, bulk.PlannerDeps{Store: store, Work: work, Plans: plans})
	if err != nil {
		return err
	}
	if err := planner.Plan(ctx, rec.Task.ID); err != nil {
		return err
	}
	worker, err := bulk.NewWorker(cfg, bulk.WorkerDeps{Store: store, Work: work, Keys: keys, Notices: nopNotices{}, Mailer: &nopMailer{}, Hasher: h})
	if err != nil {
		return err
	}
	cpu0, wall0 = cpuTime(), time.Now()
	if err := runWorkers(ctx, work, []*bulk.Worker{worker}); err != nil {
		return err
	}
	cpu, wall := cpuTime()-cpu0, time.Since(wall0)
	if t := store.task.Task; t.Processed != users || t.Succeeded != users {
		return fmt.Errorf("cpu: task %+v, want %d passwords set", t, users)
	}
	bench("default_password_cpu_ms_per_user", float64(cpu)/float64(time.Millisecond)/float64(users), "ms")
	bench("default_password_users_per_second", float64(users)/wall.Seconds(), "users/s")
	note("default passwords: %d users in %v wall, %v CPU, hashing on every core of this machine", users, wall.Round(time.Millisecond), cpu.Round(time.Millisecond))
	return nil
}

// cpuTime is the CPU time this process has used (user and system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// localKMS stands in for KMS in the CPU run, which measures hashing: its
// data keys are random and "sealed" by reversal.
type localKMS struct{}

func (localKMS) GenerateDataKey(context.Context, *kms.GenerateDataKeyInput, ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	plain := make([]byte, 32)
	rand.Read(plain)
	return &kms.GenerateDataKeyOutput{Plaintext: append([]byte(nil), plain...), CiphertextBlob: reverse(plain)}, nil
}

func (localKMS) Decrypt(_ context.Context, in *kms.DecryptInput, _ ...func(*kms.Options)) (*kms.DecryptOutput, error) {
	return &kms.DecryptOutput{Plaintext: reverse(in.CiphertextBlob)}, nil
}

func reverse(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}

// nopNotices drops the password-changed notices: the CPU figure is the
// worker's own work.
type nopNotices struct{}

func (nopNotices) SendBatch(context.Context, []any) error { return nil }
