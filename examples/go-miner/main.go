// go-miner: a small Stratum v1 SHA-256d CPU miner in plain Go (standard library only), with
// three ways of scheduling the nonce space over goroutines and an optional precomputed
// midstate, for profiling Go miner architectures with minebench.
package main

import (
	"context"
	"errors"
	"expvar"
	"flag"
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // /debug/pprof/ on the -pprof address
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

const (
	agent          = "go-miner/0.1"
	reportInterval = 5 * time.Second
	answerWait     = 500 * time.Millisecond // at exit, for answers to shares in flight
)

type config struct {
	pool, user, pass string
	threads          int
	sched            string
	batch            uint64
	midstate         bool
	pprof            string
	duration         time.Duration
	version          bool
}

func parseFlags(args []string) (*config, error) {
	cfg := &config{}
	fs := flag.NewFlagSet("go-miner", flag.ContinueOnError)
	fs.StringVar(&cfg.pool, "pool", "", "pool URL, stratum+tcp://HOST:PORT (required)")
	fs.StringVar(&cfg.user, "user", "go-miner", "worker name for mining.authorize and mining.submit")
	fs.StringVar(&cfg.pass, "pass", "x", "password for mining.authorize")
	fs.IntVar(&cfg.threads, "threads", runtime.NumCPU(), "hashing goroutines")
	fs.StringVar(&cfg.sched, "sched", "stride", "nonce scheduling: stride, channel or atomic")
	fs.Uint64Var(&cfg.batch, "batch", 4096, "nonces per batch (channel, atomic); stride checks for a new job this often")
	fs.BoolVar(&cfg.midstate, "midstate", true, "hash the header's first 64-byte block once per header, not per nonce")
	fs.StringVar(&cfg.pprof, "pprof", "", "serve net/http/pprof and expvar on this loopback HOST:PORT")
	fs.DurationVar(&cfg.duration, "duration", 0, "stop after this long, e.g. 30s (default: until SIGINT/SIGTERM)")
	fs.BoolVar(&cfg.version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if cfg.version {
		return cfg, nil
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if cfg.pool == "" {
		return nil, errors.New("-pool stratum+tcp://HOST:PORT is required")
	}
	if cfg.duration < 0 {
		return nil, fmt.Errorf("-duration %v is negative", cfg.duration)
	}
	return cfg, nil
}

// servePprof listens on a loopback address only: pprof shows the process's internals.
func servePprof(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-pprof %q: %v", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-pprof %q: only a loopback address (127.0.0.1, [::1], localhost)", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("-pprof: %v", err)
	}
	go http.Serve(ln, nil) // DefaultServeMux: /debug/pprof/ and /debug/vars
	logf("pprof on http://%s/debug/pprof/, expvar on http://%s/debug/vars", ln.Addr(), ln.Addr())
	return nil
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cfg, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		logf("%v", err)
		return 2
	}
	if cfg.version {
		fmt.Printf("%s %s %s/%s\n", agent, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	}
	addr, err := parsePoolURL(cfg.pool)
	if err != nil {
		logf("%v", err)
		return 2
	}
	m, err := newMiner(cfg.threads, cfg.sched, cfg.batch, cfg.midstate)
	if err != nil {
		logf("%v", err)
		return 2
	}
	if cfg.pprof != "" {
		if err := servePprof(cfg.pprof); err != nil {
			logf("%v", err)
			return 2
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if cfg.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.duration)
		defer cancel()
	}

	c, err := dial(addr, m, cfg.user, cfg.pass, agent)
	if err != nil {
		logf("connecting to %s: %v", addr, err)
		return 1
	}
	logf("%s %s: pool=%s threads=%d sched=%s batch=%d midstate=%v GOMAXPROCS=%d",
		agent, runtime.Version(), addr, cfg.threads, cfg.sched, cfg.batch, cfg.midstate, runtime.GOMAXPROCS(0))

	started := time.Now()
	elapsed := func() time.Duration {
		if t := c.firstJobAt.Load(); t != 0 {
			return time.Since(time.Unix(0, t))
		}
		return time.Since(started)
	}
	expvar.Publish("miner", expvar.Func(func() interface{} {
		return map[string]interface{}{
			"hashes":     m.hashes.Load(),
			"elapsed_s":  elapsed().Seconds(),
			"accepted":   c.accepted.Load(),
			"dropped":    c.dropped.Load(),
			"rejected":   c.rejectedByCode(),
			"difficulty": c.currentDifficulty(),
			"sched":      cfg.sched,
			"threads":    cfg.threads,
			"midstate":   cfg.midstate,
		}
	}))

	m.start()
	submitted := make(chan struct{})
	go func() { c.submitLoop(); close(submitted) }()

	exit := 0
	tick := time.NewTicker(reportInterval)
	defer tick.Stop()
	lastHashes, lastAt := uint64(0), time.Now()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-c.done:
			logf("%v", c.err)
			exit = 1
			break loop
		case now := <-tick.C:
			h := m.hashes.Load()
			rate := float64(h-lastHashes) / now.Sub(lastAt).Seconds()
			avg := float64(h) / elapsed().Seconds()
			lastHashes, lastAt = h, now
			logf("%s/s (5s) %s/s (avg) accepted=%d rejected=%d%s diff=%g",
				si(rate, "H"), si(avg, "H"), c.accepted.Load(), c.rejectedN.Load(), c.rejectSummary(), c.currentDifficulty())
		}
	}

	// Stop hashing, send the shares already found, give their answers a moment, then report.
	m.shutdown()
	hashes, secs := m.hashes.Load(), elapsed().Seconds()
	<-submitted
	for deadline := time.Now().Add(answerWait); exit == 0 && c.pendingSubmits() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	c.close()
	logf("stopped: %s/s over the run%s; %d shares of replaced jobs not submitted",
		si(float64(hashes)/secs, "H"), c.rejectSummary(), c.dropped.Load())
	fmt.Fprintf(os.Stderr, "hashes=%d elapsed=%.3f accepted=%d rejected=%d\n",
		hashes, secs, c.accepted.Load(), c.rejectedN.Load())
	return exit
}

// si: 1234567 -> "1.23 MH".
func si(v float64, unit string) string {
	prefixes := []string{"", "k", "M", "G", "T"}
	i := 0
	for v >= 1000 && i < len(prefixes)-1 {
		v /= 1000
		i++
	}
	return strings.TrimSpace(fmt.Sprintf("%.2f %s%s", v, prefixes[i], unit))
}
