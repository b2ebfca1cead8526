package main

// A Stratum v1 client: newline-delimited JSON-RPC over TCP.

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const maxLine = 64 << 10 // longest line accepted from the pool

type rpcMsg struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

type client struct {
	m     *miner
	conn  net.Conn
	user  string
	pass  string
	agent string

	wmu    sync.Mutex // one writer at a time
	nextID atomic.Uint64

	mu         sync.Mutex
	pending    map[uint64]string // request id -> method
	en1        []byte
	en2Size    int
	subscribed bool
	difficulty float64 // from the last set_difficulty: applies from the next notify
	target     Target
	rejected   map[int64]uint64  // by error code
	rejectMsg  map[string]uint64 // by "code message"
	lastNotify string            // the last mining.notify params

	accepted   atomic.Uint64
	rejectedN  atomic.Uint64
	firstJobAt atomic.Int64  // unix nanoseconds of the first job, 0 before
	cleanGen   atomic.Uint64 // generation of the last clean job
	dropped    atomic.Uint64 // shares of jobs a clean job had replaced, not submitted
	done       chan struct{}
	doneOnce   sync.Once
	err        error
}

// parsePoolURL accepts stratum+tcp://HOST:PORT (also tcp:// or a bare HOST:PORT).
func parsePoolURL(u string) (string, error) {
	addr := u
	for _, p := range []string{"stratum+tcp://", "tcp://"} {
		addr = strings.TrimPrefix(addr, p)
	}
	addr = strings.TrimSuffix(addr, "/")
	if strings.Contains(addr, "://") {
		return "", fmt.Errorf("-pool %q: only stratum+tcp:// is supported", u)
	}
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return "", fmt.Errorf("-pool %q: want stratum+tcp://HOST:PORT", u)
	}
	return addr, nil
}

func dial(addr string, m *miner, user, pass, agent string) (*client, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	c := &client{
		m: m, conn: conn, user: user, pass: pass, agent: agent,
		pending:    map[uint64]string{},
		difficulty: 1,
		rejected:   map[int64]uint64{},
		rejectMsg:  map[string]uint64{},
		done:       make(chan struct{}),
	}
	c.target, _ = targetFromDifficulty(1)
	go c.readLoop()
	if _, err := c.send("mining.subscribe", []string{agent}); err != nil {
		conn.Close()
		return nil, err
	}
	return c, nil
}

// fail ends the session (first error wins).
func (c *client) fail(err error) {
	c.doneOnce.Do(func() {
		c.err = err
		close(c.done)
	})
}

func (c *client) close() {
	c.fail(errors.New("closed"))
	c.conn.Close()
}

func (c *client) send(method string, params interface{}) (uint64, error) {
	id := c.nextID.Add(1)
	line, err := json.Marshal(map[string]interface{}{"id": id, "method": method, "params": params})
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	c.pending[id] = method
	c.mu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	_, err = c.conn.Write(append(line, '\n'))
	if err != nil {
		c.fail(fmt.Errorf("write to pool: %v", err))
	}
	return id, err
}

// submitLoop sends every share the workers find until the share channel closes.
func (c *client) submitLoop() {
	for s := range c.m.shares {
		select {
		case <-c.done:
			continue // the connection is gone: drain
		default:
		}
		if s.job.gen < c.cleanGen.Load() {
			c.dropped.Add(1) // found just before the switch: the pool would answer "stale"
			continue
		}
		c.send("mining.submit", []string{c.user, s.job.ID, s.en2hex, s.job.NTimeHex, fmt.Sprintf("%08x", s.nonce)})
	}
}

// pendingSubmits counts submits still waiting for an answer.
func (c *client) pendingSubmits() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.pending {
		if m == "mining.submit" {
			n++
		}
	}
	return n
}

func (c *client) readLoop() {
	sc := bufio.NewScanner(c.conn)
	sc.Buffer(make([]byte, 0, 16<<10), maxLine+2) // the line, "\r\n"
	for sc.Scan() {
		line := sc.Bytes()
		if len(strings.TrimSpace(string(line))) == 0 {
			continue
		}
		if err := c.handle(line); err != nil {
			c.fail(err)
			return
		}
	}
	err := sc.Err()
	switch {
	case errors.Is(err, bufio.ErrTooLong):
		err = fmt.Errorf("pool sent a line over %d bytes", maxLine)
	case err == nil:
		err = errors.New("the pool closed the connection")
	}
	c.fail(fmt.Errorf("pool connection: %v", err))
}

func logf(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "go-miner: "+format+"\n", a...)
}

// handle one line; an error ends the session.
func (c *client) handle(line []byte) error {
	var msg rpcMsg
	if err := json.Unmarshal(line, &msg); err != nil {
		logf("ignoring a line that is not JSON-RPC: %v", err)
		return nil
	}
	if msg.Method != "" {
		return c.notification(&msg)
	}
	var id uint64
	if err := json.Unmarshal(msg.ID, &id); err != nil {
		logf("ignoring a response with id %s", msg.ID)
		return nil
	}
	c.mu.Lock()
	method, ok := c.pending[id]
	delete(c.pending, id)
	c.mu.Unlock()
	if !ok {
		if !isNull(msg.Error) {
			logf("pool error (id %s): %s", msg.ID, msg.Error)
		}
		return nil
	}
	switch method {
	case "mining.subscribe":
		return c.onSubscribe(&msg)
	case "mining.authorize":
		var okAuth bool
		if json.Unmarshal(msg.Result, &okAuth) != nil || !okAuth {
			_, code, text := rpcError(msg.Error)
			return fmt.Errorf("mining.authorize as %q refused: %d %s", c.user, code, text)
		}
		logf("authorized as %q", c.user)
	case "mining.submit":
		var okShare bool
		if json.Unmarshal(msg.Result, &okShare) == nil && okShare && isNull(msg.Error) {
			c.accepted.Add(1)
			return nil
		}
		_, code, text := rpcError(msg.Error)
		c.rejectedN.Add(1)
		c.mu.Lock()
		c.rejected[code]++
		c.rejectMsg[fmt.Sprintf("%d %q", code, text)]++
		c.mu.Unlock()
	}
	return nil
}

func isNull(r json.RawMessage) bool {
	return len(r) == 0 || string(r) == "null"
}

// rpcError reads [code, message, data] (or {"code":…, "message":…}); code 0 when absent.
func rpcError(r json.RawMessage) (bool, int64, string) {
	if isNull(r) {
		return false, 0, "rejected without an error"
	}
	var arr []json.RawMessage
	if json.Unmarshal(r, &arr) == nil {
		var code float64
		var text string
		if len(arr) > 0 {
			json.Unmarshal(arr[0], &code)
		}
		if len(arr) > 1 {
			json.Unmarshal(arr[1], &text)
		}
		return true, int64(code), text
	}
	var obj struct {
		Code    float64 `json:"code"`
		Message string  `json:"message"`
	}
	if json.Unmarshal(r, &obj) == nil {
		return true, int64(obj.Code), obj.Message
	}
	return true, 0, string(r)
}

// onSubscribe: result [[subscriptions...], extranonce1 hex, extranonce2_size]; then authorize.
func (c *client) onSubscribe(msg *rpcMsg) error {
	var res []json.RawMessage
	if err := json.Unmarshal(msg.Result, &res); err != nil || len(res) < 3 {
		_, code, text := rpcError(msg.Error)
		return fmt.Errorf("mining.subscribe failed: %s (%d %s)", msg.Result, code, text)
	}
	var en1hex string
	var en2Size int
	if err := json.Unmarshal(res[1], &en1hex); err != nil {
		return fmt.Errorf("mining.subscribe: extranonce1: %v", err)
	}
	en1, err := hex.DecodeString(en1hex)
	if err != nil {
		return fmt.Errorf("mining.subscribe: extranonce1 %q: %v", en1hex, err)
	}
	if err := json.Unmarshal(res[2], &en2Size); err != nil || en2Size < 0 || en2Size > 32 {
		return fmt.Errorf("mining.subscribe: extranonce2_size %s", res[2])
	}
	c.mu.Lock()
	c.en1, c.en2Size, c.subscribed = en1, en2Size, true
	c.mu.Unlock()
	logf("subscribed: extranonce1=%s extranonce2_size=%d", en1hex, en2Size)
	_, err = c.send("mining.authorize", []string{c.user, c.pass})
	return err
}

func (c *client) notification(msg *rpcMsg) error {
	switch msg.Method {
	case "mining.set_difficulty":
		var p []float64
		if err := json.Unmarshal(msg.Params, &p); err != nil || len(p) < 1 {
			logf("ignoring mining.set_difficulty %s", msg.Params)
			return nil
		}
		t, err := targetFromDifficulty(p[0])
		if err != nil {
			logf("ignoring mining.set_difficulty: %v", err)
			return nil
		}
		c.mu.Lock()
		c.difficulty, c.target = p[0], t // for the next notify
		c.mu.Unlock()
	case "mining.notify":
		j, err := parseNotify(msg.Params)
		if err != nil {
			logf("ignoring mining.notify: %v", err)
			return nil
		}
		c.mu.Lock()
		if !c.subscribed {
			c.mu.Unlock()
			logf("ignoring mining.notify before the subscribe answer")
			return nil
		}
		d, t, en1, en2Size := c.difficulty, c.target, c.en1, c.en2Size
		// The same job again (same params, difficulty and extranonce1): restarting it would
		// hash the same headers again and submit duplicates.
		if cur := c.m.cur.Load(); cur != nil && !j.Clean && string(msg.Params) == c.lastNotify &&
			cur.difficulty == d && string(cur.en1) == string(en1) && cur.en2Size == en2Size {
			c.mu.Unlock()
			return nil
		}
		c.lastNotify = string(msg.Params)
		c.mu.Unlock()
		wj := c.m.publish(j, d, t, en1, en2Size)
		if j.Clean {
			c.cleanGen.Store(wj.gen) // shares of older jobs are void: not worth submitting
		}
		c.firstJobAt.CompareAndSwap(0, time.Now().UnixNano())
	case "mining.set_extranonce":
		var p []json.RawMessage
		var en1hex string
		var size int
		if json.Unmarshal(msg.Params, &p) != nil || len(p) < 2 ||
			json.Unmarshal(p[0], &en1hex) != nil || json.Unmarshal(p[1], &size) != nil {
			logf("ignoring mining.set_extranonce %s", msg.Params)
			return nil
		}
		en1, err := hex.DecodeString(en1hex)
		if err != nil || size < 0 || size > 32 {
			logf("ignoring mining.set_extranonce %s", msg.Params)
			return nil
		}
		c.mu.Lock()
		c.en1, c.en2Size = en1, size // from the next notify
		c.mu.Unlock()
	case "client.show_message":
		logf("pool says: %s", msg.Params)
	case "client.reconnect":
		return errors.New("pool asked to reconnect (client.reconnect); not supported")
	default:
		logf("ignoring %s", msg.Method)
	}
	return nil
}

// rejectSummary: ` (21 "Stale share": 3, 23 "Low difficulty share": 1)`, or "".
func (c *client) rejectSummary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.rejectMsg) == 0 {
		return ""
	}
	keys := make([]string, 0, len(c.rejectMsg))
	for k := range c.rejectMsg {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, c.rejectMsg[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// rejectedByCode is a copy of the rejection counts by error code.
func (c *client) rejectedByCode() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]uint64, len(c.rejected))
	for k, v := range c.rejected {
		out[fmt.Sprint(k)] = v
	}
	return out
}

// currentDifficulty is the difficulty of the job being worked on (0 before any job).
func (c *client) currentDifficulty() float64 {
	if j := c.m.cur.Load(); j != nil {
		return j.difficulty
	}
	return 0
}
