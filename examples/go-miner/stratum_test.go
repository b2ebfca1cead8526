package main

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"
)

// A scripted pool on loopback: the handshake, set_difficulty applying from the next notify,
// what a submit carries, answers counted by error code, and a clean job switch.
func TestClientAgainstScriptedPool(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	m, err := newMiner(2, "atomic", 256, true)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dial(ln.Addr().String(), m, "alice", "pw", agent)
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	in := bufio.NewScanner(conn)
	read := func() rpcMsg {
		t.Helper()
		if !in.Scan() {
			t.Fatalf("pool read: %v", in.Err())
		}
		var msg rpcMsg
		if err := json.Unmarshal(in.Bytes(), &msg); err != nil {
			t.Fatalf("%s: %v", in.Bytes(), err)
		}
		return msg
	}
	send := func(format string, a ...interface{}) {
		fmt.Fprintf(conn, format+"\n", a...)
	}

	msg := read()
	if msg.Method != "mining.subscribe" {
		t.Fatalf("first request %q", msg.Method)
	}
	send(`{"id":%s,"result":[[["mining.notify","1"]],"0a0b0c0d",4],"error":null}`, msg.ID)
	msg = read()
	if msg.Method != "mining.authorize" || string(msg.Params) != `["alice","pw"]` {
		t.Fatalf("second request %s %s", msg.Method, msg.Params)
	}
	send(`{"id":%s,"result":true,"error":null}`, msg.ID)

	tx := mustHex(t, genesisCoinbase)
	notify := func(id string, clean bool) {
		send(`{"id":null,"method":"mining.notify","params":["%s","%x","%x","%x",["%s"],"20000000","1d00ffff","495fab29",%v]}`,
			id, [32]byte{1, 2, 3, 4, 5}, tx[:50], tx[50:], hex.EncodeToString(make([]byte, 32)), clean)
	}
	easy, hard := 1e-6, 1e-4
	send(`{"id":null,"method":"mining.set_difficulty","params":[%g]}`, easy)
	notify("A", true)
	send(`{"id":null,"method":"mining.set_difficulty","params":[%g]}`, hard) // for job B only

	// check rebuilds the header a share stands for and tests it against the difficulty.
	check := func(p []string, difficulty float64) bool {
		t.Helper()
		if len(p) != 5 || p[0] != "alice" || p[3] != "495fab29" || len(p[2]) != 8 || len(p[4]) != 8 {
			t.Fatalf("submit params %q", p)
		}
		en2 := mustHex(t, p[2])
		coinbase := append(append(append(append([]byte{}, tx[:50]...), 0x0a, 0x0b, 0x0c, 0x0d), en2...), tx[50:]...)
		j := &Job{Version: 0x20000000, NBits: 0x1d00ffff, NTime: 0x495fab29, Branch: [][32]byte{{}}}
		for w := 0; w < 32; w += 4 { // the prevhash sent was word-reversed bytes 1..5
			p := [32]byte{1, 2, 3, 4, 5}
			j.Prevhash[w], j.Prevhash[w+1], j.Prevhash[w+2], j.Prevhash[w+3] = p[w+3], p[w+2], p[w+1], p[w]
		}
		nonce := binary.BigEndian.Uint32(mustHex(t, p[4]))
		hdr := buildHeader(j, merkleRoot(coinbase, j.Branch), nonce)
		h := sha256d(hdr[:])
		tg, _ := targetFromDifficulty(difficulty)
		return tg.metBy(&h)
	}
	answers := 0
	answer := func(msg rpcMsg) {
		answers++
		if answers == 2 {
			send(`{"id":%s,"result":null,"error":[23,"Low difficulty share",null]}`, msg.ID)
		} else {
			send(`{"id":%s,"result":true,"error":null}`, msg.ID)
		}
	}
	m.start()
	go c.submitLoop()

	// Job A: shares at the easy target, most of which miss the hard one.
	missHard := 0
	for i := 0; i < 40; i++ {
		msg := read()
		var p []string
		json.Unmarshal(msg.Params, &p)
		if msg.Method != "mining.submit" || p[1] != "A" {
			t.Fatalf("expected a submit on A, got %s %s", msg.Method, msg.Params)
		}
		if !check(p, easy) {
			t.Fatalf("share %q misses its job's target", p)
		}
		if !check(p, hard) {
			missHard++
		}
		answer(msg)
	}
	if missHard == 0 {
		t.Fatal("job A was mined at the next job's difficulty")
	}
	// Job B (clean): every share must meet the hard target.
	notify("B", true)
	onB := 0
	for onB < 3 {
		msg := read()
		var p []string
		json.Unmarshal(msg.Params, &p)
		if p[1] == "B" {
			onB++
			if !check(p, hard) {
				t.Fatalf("share %q on B misses B's difficulty", p)
			}
		}
		answer(msg)
	}
	// Every answer has reached the client before it sees this notification.
	notify("C", false)
	deadline := time.Now().Add(5 * time.Second)
	for m.cur.Load().ID != "C" && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if a, r := c.accepted.Load(), c.rejectedN.Load(); a+r != uint64(answers) || r != 1 {
		t.Fatalf("accepted %d rejected %d after %d answers", a, r, answers)
	}
	if got := c.rejectedByCode(); got["23"] != 1 {
		t.Fatalf("rejected by code %v", got)
	}
	go func() { // drain while the workers stop
		for in.Scan() {
		}
	}()
	m.shutdown()
}
