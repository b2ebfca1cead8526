package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"testing"
)

const (
	genesisHeader = "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c"
	genesisHash   = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"
	// The genesis coinbase transaction; "The Times" in its scriptSig stands where a pool's
	// extranonce1 (4 bytes) and extranonce2 (4 bytes) would.
	genesisCoinbase = "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000"
	block170Header  = "0100000055bd840a78798ad0da853f68974f3d183e2bd1db6a842c1feecf222a00000000ff104ccb05421ab93e63f8c3ce5c2c2e9dbb37de2764b3a3175c8166562cac7d51b96a49ffff001d283e9e70"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func header80(t *testing.T, s string) [80]byte {
	return *(*[80]byte)(mustHex(t, s))
}

// Both hashing modes give the genesis block hash.
func TestGenesisHashBothModes(t *testing.T) {
	hdr := header80(t, genesisHeader)
	nonce := uint32(0x7c2bac1d) // the header's last 4 bytes, 1dac2b7c, little-endian
	if got := displayHash(sha256d(hdr[:])); got != genesisHash {
		t.Fatalf("sha256d: %s", got)
	}
	for _, mid := range []bool{false, true} {
		x := newHeaderHasher(mid)
		x.reset(&hdr)
		if got := displayHash(*x.hash(nonce)); got != genesisHash {
			t.Errorf("midstate=%v: %s, want %s", mid, got, genesisHash)
		}
		// Again after other nonces: the restored midstate must not drift.
		x.hash(1)
		x.hash(2)
		if got := displayHash(*x.hash(nonce)); got != genesisHash {
			t.Errorf("midstate=%v, second time: %s", mid, got)
		}
	}
}

func TestMidstateMatchesPlainOverManyNonces(t *testing.T) {
	hdr := header80(t, block170Header)
	plain, mid := newHeaderHasher(false), newHeaderHasher(true)
	plain.reset(&hdr)
	mid.reset(&hdr)
	for n := uint32(0); n < 5000; n++ {
		nonce := n * 2654435761
		if a, b := *plain.hash(nonce), *mid.hash(nonce); a != b {
			t.Fatalf("nonce %08x: plain %x midstate %x", nonce, a, b)
		}
	}
}

// The genesis coinbase split into stratum parts, through a mining.notify line, rebuilds the
// genesis header.
func TestGenesisFromStratumParts(t *testing.T) {
	tx := mustHex(t, genesisCoinbase)
	at := strings.Index(genesisCoinbase, "5468652054696d6573") / 2
	params := fmt.Sprintf(`["g","%s","%s","%s",[],"00000001","1d00ffff","495fab29",true]`,
		strings.Repeat("0", 64), hex.EncodeToString(tx[:at]), hex.EncodeToString(tx[at+8:]))
	j, err := parseNotify(json.RawMessage(params))
	if err != nil {
		t.Fatal(err)
	}
	coinbase := append(append(append(append([]byte{}, j.Coinb1...), tx[at:at+4]...), tx[at+4:at+8]...), j.Coinb2...)
	hdr := buildHeader(j, merkleRoot(coinbase, j.Branch), 0x7c2bac1d)
	if got := hex.EncodeToString(hdr[:]); got != genesisHeader {
		t.Fatalf("header\n got %s\nwant %s", got, genesisHeader)
	}
}

// Block 170: a one-entry merkle branch and a non-zero prevhash in stratum's word order.
func TestBlock170BranchAndPrevhash(t *testing.T) {
	real := header80(t, block170Header)
	rev := func(s string) [32]byte {
		b := mustHex(t, s)
		for i, j := 0, 31; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		return *(*[32]byte)(b)
	}
	coinbaseHash := rev("b1fea52486ce0c62bb442b530a3f0132b826c74e473d1f2c220bfa78111c5082")
	branch := rev("f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16")
	root := sha256d(append(coinbaseHash[:], branch[:]...))
	if !equal(root[:], real[36:68]) {
		t.Fatalf("merkle root %x", root)
	}
	// The wire form: each 4-byte word reversed.
	wire := make([]byte, 32)
	for w := 0; w < 32; w += 4 {
		for i := 0; i < 4; i++ {
			wire[w+i] = real[4+w+3-i]
		}
	}
	prev, err := prevhashFromStratum(hex.EncodeToString(wire))
	if err != nil || !equal(prev[:], real[4:36]) {
		t.Fatalf("prevhash %x %v", prev, err)
	}
}

func equal(a, b []byte) bool { return string(a) == string(b) }

func TestTargetFromDifficulty(t *testing.T) {
	d1, _ := targetFromDifficulty(1)
	want := "00000000ffff" + strings.Repeat("0", 52) // big-endian hex
	if got := hex.EncodeToString(reverse(d1.le[:])); got != want {
		t.Fatalf("difficulty 1: %s", got)
	}
	half, _ := targetFromDifficulty(0.5)
	if got := hex.EncodeToString(reverse(half.le[:])); got != "00000001fffe"+strings.Repeat("0", 52) {
		t.Fatalf("difficulty 0.5: %s", got)
	}
	// Exact: 0xffff·2^208 / 3, floored.
	third, _ := targetFromDifficulty(3)
	q := new(big.Int).Div(new(big.Int).Lsh(big.NewInt(0xffff), 208), big.NewInt(3))
	if got := new(big.Int).SetBytes(reverse(third.le[:])); got.Cmp(q) != 0 {
		t.Fatalf("difficulty 3: %x want %x", got, q)
	}
	tiny, _ := targetFromDifficulty(1e-30) // beyond 2^256: capped
	if tiny.top != 0xffffffff {
		t.Fatalf("tiny difficulty top %08x", tiny.top)
	}
	for _, bad := range []float64{0, -1} {
		if _, err := targetFromDifficulty(bad); err == nil {
			t.Errorf("difficulty %v accepted", bad)
		}
	}
}

func reverse(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		out[len(b)-1-i] = b[i]
	}
	return out
}

func TestTargetMetByBoundaries(t *testing.T) {
	tg, _ := targetFromDifficulty(0.001)
	h := tg.le
	if !tg.metBy(&h) {
		t.Fatal("hash == target must meet it")
	}
	h[0]++ // target + 1 (the low byte of this target is 0)
	if tg.metBy(&h) {
		t.Fatal("target + 1 must not meet it")
	}
	h = tg.le
	h[31]++ // top word larger: the early reject
	if tg.metBy(&h) {
		t.Fatal("larger top word must not meet it")
	}
	h = tg.le
	h[20]--
	if !tg.metBy(&h) {
		t.Fatal("equal top word, smaller below: meets it")
	}
	// The genesis hash meets difficulty 1.
	g := sha256d(mustHex(t, genesisHeader))
	d1, _ := targetFromDifficulty(1)
	if !d1.metBy(&g) {
		t.Fatal("genesis hash does not meet difficulty 1")
	}
}

// Every scheduler, with every hash a share (difficulty so low the target is 2^256-1): no two
// hashes share (extranonce2, nonce), every worker has its own extranonce2, and a new job is
// picked up.
func TestSchedulersHashDisjointWork(t *testing.T) {
	tx := mustHex(t, genesisCoinbase)
	for _, sched := range []string{"stride", "channel", "atomic"} {
		t.Run(sched, func(t *testing.T) {
			m, err := newMiner(3, sched, 64, true)
			if err != nil {
				t.Fatal(err)
			}
			easy, _ := targetFromDifficulty(1e-30)
			job := func(id string) *Job {
				return &Job{ID: id, Coinb1: tx[:10], Coinb2: tx[10:], Version: 1, NBits: 0x1d00ffff, NTimeHex: "495fab29"}
			}
			m.publish(job("a"), 1e-30, easy, []byte{1, 2, 3, 4}, 4)
			m.start()
			seen := map[string]bool{}
			en2ByJob := map[string]map[string]bool{"a": {}, "b": {}}
			switched, afterB := false, 0
			for i := 0; afterB < 5000; i++ {
				if i > 2000000 {
					t.Fatalf("gave up: extranonce2 per job %v", en2ByJob)
				}
				s := <-m.shares
				key := s.job.ID + "/" + s.en2hex + "/" + fmt.Sprintf("%08x", s.nonce)
				if seen[key] {
					t.Fatalf("hashed twice: %s", key)
				}
				seen[key] = true
				en2ByJob[s.job.ID][s.en2hex] = true
				if s.job.ID == "b" {
					afterB++
				}
				// Switch once every worker has hashed job a.
				if !switched && i >= 10000 && len(en2ByJob["a"]) == 3 {
					m.publish(job("b"), 1e-30, easy, []byte{1, 2, 3, 4}, 4)
					switched = true
				}
			}
			go func() {
				for range m.shares {
				}
			}()
			m.shutdown()
			if n := len(en2ByJob["a"]); n != 3 {
				t.Errorf("job a: %d distinct extranonce2, want 3 (one per worker)", n)
			}
		})
	}
}

// go test -bench . : the per-nonce cost of each hashing mode on one goroutine.
func BenchmarkHash(b *testing.B) {
	hdr := *(*[80]byte)(mustHexB(b, block170Header))
	for _, mid := range []bool{false, true} {
		b.Run(fmt.Sprintf("midstate=%v", mid), func(b *testing.B) {
			x := newHeaderHasher(mid)
			x.reset(&hdr)
			tg, _ := targetFromDifficulty(1)
			found := 0
			for i := 0; i < b.N; i++ {
				if tg.metBy(x.hash(uint32(i))) {
					found++
				}
			}
			if found > b.N {
				b.Fatal("impossible")
			}
		})
	}
}

func mustHexB(b *testing.B, s string) []byte {
	out, err := hex.DecodeString(s)
	if err != nil {
		b.Fatal(err)
	}
	return out
}
