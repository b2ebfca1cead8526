package main

// The three ways of sharing the nonce space among worker goroutines.
//
// Every scheduler hands out 64-bit work indices c, disjoint between workers; a worker hashes
// index c as nonce uint32(c) of the header whose extranonce2 roll counter is c>>32. The
// extranonce2 also carries the worker index (first byte), so no two workers ever hash the same
// header, and a worker rolls its extranonce2 when its part of a header's nonce space is spent.

import (
	"encoding/hex"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// workJob is a Job as the workers see it: with the difficulty, extranonce1 and extranonce2
// size in force when it arrived.
type workJob struct {
	*Job
	gen        uint64
	difficulty float64
	target     Target
	en1        []byte
	en2Size    int
	maxRoll    uint64 // the largest roll counter the extranonce2 has room for
	_          [64]byte
	next       atomic.Uint64 // the atomic scheduler's counter: on its own cache line
	_          [56]byte
}

func newWorkJob(j *Job, gen uint64, difficulty float64, target Target, en1 []byte, en2Size int) *workJob {
	w := &workJob{Job: j, gen: gen, difficulty: difficulty, target: target, en1: en1, en2Size: en2Size}
	switch {
	case en2Size <= 1:
		w.maxRoll = 0
	case en2Size-1 >= 8:
		w.maxRoll = math.MaxUint64
	default:
		w.maxRoll = 1<<(8*uint(en2Size-1)) - 1
	}
	return w
}

// share is a hash that met the job's target.
type share struct {
	job    *workJob
	en2hex string
	nonce  uint32
}

type miner struct {
	threads  int
	sched    string
	batch    uint64
	midstate bool

	cur    atomic.Pointer[workJob] // the job every worker should be on
	gen    atomic.Uint64
	stop   atomic.Bool
	stopCh chan struct{}
	shares chan share
	hashes atomic.Uint64
	wg     sync.WaitGroup
}

func newMiner(threads int, sched string, batch uint64, midstate bool) (*miner, error) {
	switch sched {
	case "stride", "channel", "atomic":
	default:
		return nil, fmt.Errorf("-sched %q: want stride, channel or atomic", sched)
	}
	if threads < 1 {
		return nil, fmt.Errorf("-threads %d: want at least 1", threads)
	}
	if batch < 1 || batch > 1<<32 {
		return nil, fmt.Errorf("-batch %d: want 1 .. 2^32", batch)
	}
	return &miner{
		threads:  threads,
		sched:    sched,
		batch:    batch,
		midstate: midstate,
		stopCh:   make(chan struct{}),
		shares:   make(chan share, 1024),
	}, nil
}

// publish makes j the job every worker switches to at its next check.
func (m *miner) publish(j *Job, difficulty float64, target Target, en1 []byte, en2Size int) *workJob {
	wj := newWorkJob(j, m.gen.Add(1), difficulty, target, en1, en2Size)
	m.cur.Store(wj)
	return wj
}

// start launches the workers (and the channel scheduler's dispatcher); they wait for a job.
func (m *miner) start() {
	var ch chan batch
	if m.sched == "channel" {
		ch = make(chan batch, m.threads)
		m.wg.Add(1)
		go func() { defer m.wg.Done(); m.dispatch(ch) }()
	}
	for k := 0; k < m.threads; k++ {
		w := &worker{m: m, idx: k, hh: newHeaderHasher(m.midstate)}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			switch m.sched {
			case "stride":
				w.runStride()
			case "channel":
				w.runChannel(ch)
			case "atomic":
				w.runAtomic()
			}
		}()
	}
}

// shutdown stops every worker, waits for them, then closes the share channel.
func (m *miner) shutdown() {
	if m.stop.CompareAndSwap(false, true) {
		close(m.stopCh)
	}
	m.wg.Wait()
	close(m.shares)
}

// waitJob blocks until there is a job other than old (nil: any job); nil when stopping.
func (m *miner) waitJob(old *workJob) *workJob {
	for {
		if m.stop.Load() {
			return nil
		}
		if j := m.cur.Load(); j != nil && j != old {
			return j
		}
		select {
		case <-m.stopCh:
			return nil
		case <-time.After(2 * time.Millisecond):
		}
	}
}

type worker struct {
	m      *miner
	idx    int
	hh     *headerHasher
	job    *workJob // the job hh holds a header of
	roll   uint64   // its extranonce2 roll counter
	en2    []byte
	en2hex string
	cb     []byte // coinbase scratch
}

// prepare builds the header for (job, roll): extranonce2 = worker index in the first byte,
// the roll counter big-endian in the rest; then the coinbase, merkle root and (midstate) the
// first block's state. False when the extranonce2 has no room for this roll.
func (w *worker) prepare(j *workJob, roll uint64) bool {
	if roll > j.maxRoll {
		return false
	}
	if cap(w.en2) < j.en2Size {
		w.en2 = make([]byte, j.en2Size)
	}
	w.en2 = w.en2[:j.en2Size]
	v := roll
	for i := len(w.en2) - 1; i >= 1; i-- {
		w.en2[i] = byte(v)
		v >>= 8
	}
	if len(w.en2) > 0 {
		w.en2[0] = byte(w.idx)
	}
	w.cb = append(w.cb[:0], j.Coinb1...)
	w.cb = append(w.cb, j.en1...)
	w.cb = append(w.cb, w.en2...)
	w.cb = append(w.cb, j.Coinb2...)
	hdr := buildHeader(j.Job, merkleRoot(w.cb, j.Branch), 0)
	w.hh.reset(&hdr)
	w.job, w.roll, w.en2hex = j, roll, hex.EncodeToString(w.en2)
	return true
}

// scan hashes the count work indices c, c+step, c+2·step, … of job j. False when the
// extranonce2 ran out of rolls (nothing left to hash on this job).
func (w *worker) scan(j *workJob, c, count, step uint64) bool {
	for i := uint64(0); i < count; i++ {
		if roll := c >> 32; roll != w.roll || j != w.job {
			if !w.prepare(j, roll) {
				w.m.hashes.Add(i)
				return false
			}
		}
		nonce := uint32(c)
		if h := w.hh.hash(nonce); j.target.metBy(h) {
			w.m.shares <- share{job: j, en2hex: w.en2hex, nonce: nonce}
		}
		c += step
	}
	w.m.hashes.Add(count)
	return true
}

// stride: worker k hashes k, k+n, k+2n, … and checks for a new job every -batch of its nonces.
func (w *worker) runStride() {
	n := uint64(w.m.threads)
	j := w.m.waitJob(nil)
	c := uint64(w.idx)
	for j != nil && !w.m.stop.Load() {
		if cur := w.m.cur.Load(); cur != j {
			j, c = cur, uint64(w.idx)
		}
		if !w.scan(j, c, w.m.batch, n) {
			j, c = w.m.waitJob(j), uint64(w.idx)
			continue
		}
		c += w.m.batch * n
	}
}

// atomic: each worker takes the next -batch indices of the job's shared counter.
func (w *worker) runAtomic() {
	b := w.m.batch
	for j := w.m.waitJob(nil); j != nil && !w.m.stop.Load(); {
		if cur := w.m.cur.Load(); cur != j {
			j = cur
		}
		c := j.next.Add(b) - b
		if !w.scan(j, c, b, 1) {
			j = w.m.waitJob(j)
		}
	}
}

type batch struct {
	job   *workJob
	start uint64
}

// dispatch (channel scheduler): one goroutine cuts the current job's index space into -batch
// sized batches and sends them to the workers; a new job restarts at index 0.
func (m *miner) dispatch(ch chan<- batch) {
	defer close(ch)
	j := m.waitJob(nil)
	var c uint64
	for j != nil {
		if cur := m.cur.Load(); cur != j {
			j, c = cur, 0
		}
		select {
		case ch <- batch{j, c}:
			c += m.batch
		case <-m.stopCh:
			return
		}
	}
}

// channel: workers take batches from the dispatcher; a batch of a replaced job is dropped.
func (w *worker) runChannel(ch <-chan batch) {
	for b := range ch {
		if w.m.stop.Load() {
			return
		}
		if b.job != w.m.cur.Load() {
			continue
		}
		if !w.scan(b.job, b.start, w.m.batch, 1) {
			w.m.waitJob(b.job)
		}
	}
}
