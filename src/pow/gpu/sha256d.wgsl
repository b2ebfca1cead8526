// sha256d over an 80-byte header, one nonce per invocation, from the host's midstate (the state
// after the header's first 64 bytes). An invocation whose hash's top 32 bits (little endian, as
// Bitcoin compares) are <= `top` appends its nonce's index in the range to `out`; the host
// re-hashes every candidate in full against the whole target.

struct Params {
    mid_lo: vec4<u32>,   // midstate words 0..3
    mid_hi: vec4<u32>,   // midstate words 4..7
    tail: vec4<u32>,     // block-2 words 0..2 (merkle tail, time, nBits), then `top`
    start: u32,          // first nonce of this dispatch
    step: u32,           // nonce stride of the range
    count: u32,          // nonces in this dispatch
    first_index: u32,    // index in the range of this dispatch's first nonce
};

@group(0) @binding(0) var<uniform> p: Params;
// out[0]: number of candidates; out[1..]: their indices in the range (capacity = count).
@group(0) @binding(1) var<storage, read_write> out: array<atomic<u32>>;

const K = array<u32, 64>(
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u
);

fn rotr(x: u32, n: u32) -> u32 {
    return (x >> n) | (x << (32u - n));
}

fn bswap(x: u32) -> u32 {
    return (x << 24u) | ((x & 0xff00u) << 8u) | ((x >> 8u) & 0xff00u) | (x >> 24u);
}

// One SHA-256 compression of the block `w` (16 big-endian words) into `s`.
fn compress(s: array<u32, 8>, block: array<u32, 16>) -> array<u32, 8> {
    var w = block;
    var a = s[0]; var b = s[1]; var c = s[2]; var d = s[3];
    var e = s[4]; var f = s[5]; var g = s[6]; var h = s[7];
    for (var t = 0u; t < 64u; t = t + 1u) {
        var wt: u32;
        if (t < 16u) {
            wt = w[t];
        } else {
            let w15 = w[(t + 1u) & 15u];
            let w2 = w[(t + 14u) & 15u];
            let s0 = rotr(w15, 7u) ^ rotr(w15, 18u) ^ (w15 >> 3u);
            let s1 = rotr(w2, 17u) ^ rotr(w2, 19u) ^ (w2 >> 10u);
            wt = w[t & 15u] + s0 + w[(t + 9u) & 15u] + s1;
            w[t & 15u] = wt;
        }
        let t1 = h + (rotr(e, 6u) ^ rotr(e, 11u) ^ rotr(e, 25u)) + ((e & f) ^ (~e & g)) + K[t] + wt;
        let t2 = (rotr(a, 2u) ^ rotr(a, 13u) ^ rotr(a, 22u)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1;
        d = c; c = b; b = a; a = t1 + t2;
    }
    return array<u32, 8>(s[0] + a, s[1] + b, s[2] + c, s[3] + d, s[4] + e, s[5] + f, s[6] + g, s[7] + h);
}

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
    let i = gid.x + gid.y * groups.x * 256u;
    if (i >= p.count) {
        return;
    }
    let nonce = p.start + i * p.step;
    let mid = array<u32, 8>(p.mid_lo.x, p.mid_lo.y, p.mid_lo.z, p.mid_lo.w,
                            p.mid_hi.x, p.mid_hi.y, p.mid_hi.z, p.mid_hi.w);
    let block2 = array<u32, 16>(p.tail.x, p.tail.y, p.tail.z, bswap(nonce),
                                0x80000000u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 640u);
    let h1 = compress(mid, block2);
    let iv = array<u32, 8>(0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                           0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u);
    let block3 = array<u32, 16>(h1[0], h1[1], h1[2], h1[3], h1[4], h1[5], h1[6], h1[7],
                                0x80000000u, 0u, 0u, 0u, 0u, 0u, 0u, 256u);
    let h2 = compress(iv, block3);
    if (bswap(h2[7]) <= p.tail.w) {
        let slot = atomicAdd(&out[0], 1u);
        if (slot < p.count) {
            atomicStore(&out[slot + 1u], p.first_index + i);
        }
    }
}
