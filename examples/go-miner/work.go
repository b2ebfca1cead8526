package main

// Jobs, headers, targets and the per-nonce hash: the byte orders every Stratum v1 pool
// and miner agree on.
//
//   - prevhash travels as the header's 32 bytes with each 4-byte word reversed;
//   - version, nbits and ntime are the big-endian hex of the number the header stores
//     little-endian; the submitted nonce is the big-endian hex (%08x) of the nonce value;
//   - coinb1, coinb2, the extranonces and the merkle branch hashes are raw bytes in the
//     order they are hashed.

import (
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"math"
	"math/big"
)

// Job is what one mining.notify carries (immutable once parsed).
type Job struct {
	ID       string
	Prevhash [32]byte // header byte order
	Coinb1   []byte
	Coinb2   []byte
	Branch   [][32]byte
	Version  uint32
	NBits    uint32
	NTime    uint32
	NTimeHex string // submitted back exactly as received
	Clean    bool
}

// parseNotify reads the params of mining.notify:
// [job_id, prevhash, coinb1, coinb2, [branch...], version, nbits, ntime, clean_jobs].
func parseNotify(raw json.RawMessage) (*Job, error) {
	var p []json.RawMessage
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("mining.notify params: %v", err)
	}
	if len(p) < 9 {
		return nil, fmt.Errorf("mining.notify has %d params, expected 9", len(p))
	}
	var id, prev, cb1, cb2, ver, nbits, ntime string
	var branch []string
	var clean bool
	for i, dst := range []interface{}{&id, &prev, &cb1, &cb2, &branch, &ver, &nbits, &ntime, &clean} {
		if err := json.Unmarshal(p[i], dst); err != nil {
			return nil, fmt.Errorf("mining.notify param %d: %v", i, err)
		}
	}
	j := &Job{ID: id, NTimeHex: ntime, Clean: clean}
	var err error
	if j.Prevhash, err = prevhashFromStratum(prev); err != nil {
		return nil, err
	}
	if j.Coinb1, err = hex.DecodeString(cb1); err != nil {
		return nil, fmt.Errorf("coinb1: %v", err)
	}
	if j.Coinb2, err = hex.DecodeString(cb2); err != nil {
		return nil, fmt.Errorf("coinb2: %v", err)
	}
	for _, h := range branch {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("merkle branch entry %q is not 32 bytes of hex", h)
		}
		j.Branch = append(j.Branch, *(*[32]byte)(b))
	}
	if j.Version, err = u32FromHex(ver); err != nil {
		return nil, fmt.Errorf("version: %v", err)
	}
	if j.NBits, err = u32FromHex(nbits); err != nil {
		return nil, fmt.Errorf("nbits: %v", err)
	}
	if j.NTime, err = u32FromHex(ntime); err != nil {
		return nil, fmt.Errorf("ntime: %v", err)
	}
	return j, nil
}

// u32FromHex reads 8 hex digits as a big-endian u32.
func u32FromHex(s string) (uint32, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 4 {
		return 0, fmt.Errorf("%q is not 8 hex digits", s)
	}
	return binary.BigEndian.Uint32(b), nil
}

// prevhashFromStratum un-reverses each 4-byte word of the wire form.
func prevhashFromStratum(s string) ([32]byte, error) {
	var out [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return out, fmt.Errorf("prevhash %q is not 64 hex digits", s)
	}
	for w := 0; w < 32; w += 4 {
		out[w], out[w+1], out[w+2], out[w+3] = b[w+3], b[w+2], b[w+1], b[w]
	}
	return out, nil
}

func sha256d(b []byte) [32]byte {
	first := sha256.Sum256(b)
	return sha256.Sum256(first[:])
}

// merkleRoot: sha256d(coinbase), then root = sha256d(root || h) for each branch hash h.
func merkleRoot(coinbase []byte, branch [][32]byte) [32]byte {
	root := sha256d(coinbase)
	var buf [64]byte
	for _, h := range branch {
		copy(buf[:32], root[:])
		copy(buf[32:], h[:])
		root = sha256d(buf[:])
	}
	return root
}

// buildHeader: version || prevhash || merkle root || ntime || nbits || nonce (numbers LE).
func buildHeader(j *Job, root [32]byte, nonce uint32) [80]byte {
	var h [80]byte
	binary.LittleEndian.PutUint32(h[0:], j.Version)
	copy(h[4:36], j.Prevhash[:])
	copy(h[36:68], root[:])
	binary.LittleEndian.PutUint32(h[68:], j.NTime)
	binary.LittleEndian.PutUint32(h[72:], j.NBits)
	binary.LittleEndian.PutUint32(h[76:], nonce)
	return h
}

// displayHash is the usual block-explorer form: the digest bytes reversed.
func displayHash(h [32]byte) string {
	for i, j := 0, 31; i < j; i, j = i+1, j-1 {
		h[i], h[j] = h[j], h[i]
	}
	return hex.EncodeToString(h[:])
}

// Target is a 256-bit share target, little-endian like the hash it is compared with (byte 31
// most significant), plus its top 32 bits for the early reject.
type Target struct {
	le  [32]byte
	top uint32
}

var (
	diff1     = new(big.Int).Lsh(big.NewInt(0xffff), 208) // the difficulty-1 target
	maxTarget = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 256), big.NewInt(1))
)

// targetFromDifficulty: floor(0xffff·2^208 / d), exactly (d is read as the exact rational
// its float64 is), capped at 2^256-1.
func targetFromDifficulty(d float64) (Target, error) {
	if !(d > 0) || math.IsInf(d, 0) {
		return Target{}, fmt.Errorf("share difficulty %v is not a positive number", d)
	}
	r := new(big.Rat).SetFloat64(d)
	t := new(big.Int).Mul(diff1, r.Denom())
	t.Quo(t, r.Num())
	if t.Cmp(maxTarget) > 0 {
		t.Set(maxTarget)
	}
	return targetFromInt(t), nil
}

func targetFromInt(t *big.Int) Target {
	var be [32]byte
	t.FillBytes(be[:])
	var out Target
	for i := range be {
		out.le[i] = be[31-i]
	}
	out.top = binary.LittleEndian.Uint32(out.le[28:])
	return out
}

// metBy: the hash, read as a little-endian 256-bit number, is <= the target. The top 32 bits
// decide almost every time (a share at difficulty >= 1 needs them all zero).
func (t *Target) metBy(h *[32]byte) bool {
	top := binary.LittleEndian.Uint32(h[28:])
	if top != t.top {
		return top < t.top
	}
	for i := 27; i >= 0; i-- {
		if h[i] != t.le[i] {
			return h[i] < t.le[i]
		}
	}
	return true
}

// headerHasher hashes one header for many nonces. With midstate, the first 64-byte block is
// compressed once (reset) and each nonce only costs the second block plus the 32-byte second
// hash: 2 SHA-256 compressions instead of 3. crypto/sha256 has no midstate API, so the state
// after the first block is saved with MarshalBinary and restored per nonce with
// UnmarshalBinary (which overwrites the whole state, so one hash.Hash per worker is reused
// instead of allocating a fresh one per nonce).
type headerHasher struct {
	midstate bool
	hdr      [80]byte
	saved    []byte // the marshalled state after hdr[0:64]
	h        hash.Hash
	restore  encoding.BinaryUnmarshaler
	first    [32]byte
	out      [32]byte
	// Written per nonce by one worker and read by no other: keep the next allocation (maybe
	// another worker's hasher) off the cache line of out, or the two cores false-share it.
	_ [64]byte
}

func newHeaderHasher(midstate bool) *headerHasher {
	x := &headerHasher{midstate: midstate, h: sha256.New()}
	x.restore = x.h.(encoding.BinaryUnmarshaler)
	return x
}

// reset starts on a new header (its nonce field is overwritten per nonce).
func (x *headerHasher) reset(hdr *[80]byte) {
	x.hdr = *hdr
	if !x.midstate {
		return
	}
	x.h.Reset()
	x.h.Write(x.hdr[:64])
	saved, err := x.h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic(err) // crypto/sha256 always supports it
	}
	x.saved = saved
}

// hash returns sha256d(header with this nonce); the result is valid until the next call.
func (x *headerHasher) hash(nonce uint32) *[32]byte {
	binary.LittleEndian.PutUint32(x.hdr[76:], nonce)
	if x.midstate {
		if err := x.restore.UnmarshalBinary(x.saved); err != nil {
			panic(err)
		}
		x.h.Write(x.hdr[64:80])
		x.h.Sum(x.first[:0])
	} else {
		x.first = sha256.Sum256(x.hdr[:])
	}
	x.out = sha256.Sum256(x.first[:])
	return &x.out
}
