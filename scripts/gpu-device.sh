#!/usr/bin/env bash
# The gpu backend on a data-centre GPU (issue #17), in two halves, so the scarce device time is
# spent only on measuring:
#
#   scripts/gpu-device.sh prepare   # here (Debian 12, Rust): build with --features gpu, strip,
#                                   # fetch the Vulkan loader .debs; all into target/gpu-device/
#   scripts/gpu-device.sh device-quick   # here, on lavapipe: the device half, small (a dry run)
#   scripts/gpu-device.sh device    # there (one `run` call of the device tool, carrying
#                                   # target/gpu-device): unpack the loader, then backends, the
#                                   # gpu tests (cross-check, mainnet windows, every feeding
#                                   # shape), scenarios/gpu.toml, and a feeding sweep; every
#                                   # output under $OUT
#
# The device machine (one NVIDIA H200, Ubuntu 24.04, driver 580) has the NVIDIA Vulkan driver
# but no Vulkan loader and no network: the loader and the glvnd libraries the NVIDIA ICD needs
# travel as Debian 12 .deb files and are unpacked there (root: into / and ldconfig, as the
# device README says; otherwise into a prefix on LD_LIBRARY_PATH). A release binary built on
# Debian 12 (glibc 2.36) runs there as it is.
#
# Budget: the device part takes about 3 minutes of commands (the scenario 60-70 s, the sweep
# 6 runs of ~7 s, the tests ~20 s) after the machine's start; give the call a timeout that
# leaves room for one rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/gpu-device
debs="libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2"

prepare() {
    rm -rf "$dir" && mkdir -p "$dir/debs"
    cargo build --release --features gpu
    strip -o "$dir/minebench" target/release/minebench
    # The test binaries: tests/gpu.rs (cross-check, mainnet windows) and the library's
    # pow::gpu tests (every feeding shape against the reference).
    cargo test --release --features gpu --no-run --lib --test gpu --message-format=json \
        | python3 -c '
import json, sys, shutil
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    t = m.get("target", {})
    if (m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]
            and t.get("name") in ("minebench", "gpu")):
        name = {"lib": "lib-tests", "test": "gpu-tests"}[t["kind"][0]]
        shutil.copy(m["executable"], sys.argv[1] + "/" + name)
        print("test binary:", name)
' "$dir"
    strip "$dir/lib-tests" "$dir/gpu-tests"
    (cd "$dir/debs" && apt-get download $debs)
    du -sh "$dir"/* "$dir"/debs
    cat <<EOF

Ready. One call of the device tool (run), from the repository root:
  command:   bash scripts/gpu-device.sh device
  carry:     ["$dir"]
  timeout_s: 420
then give the machine back. Back under \$OUT: log.txt (facts, backends, tests, every run),
backends.json, gpu-report.json and gpu-summary.md (scenarios/gpu.toml), table.txt (every case
of every run, one line each) and runs.tar.gz (all reports and plots, sweep included).
EOF
}

device() {
    # What comes back from the device tool is at most 8 files, 2 folders down: the runs are
    # written to $work and packed into one archive; the log and the main report lie beside it.
    out=${OUT:?the device tool sets OUT}
    work=$(mktemp -d)
    mkdir -p "$out"
    exec > >(tee "$out/log.txt") 2>&1
    trap 'tar -C "$work" -czf "$out/runs.tar.gz" . || true' EXIT
    echo "== $(date -u +%FT%TZ) on $(hostname)"
    # The Vulkan loader and glvnd (the device README's recipe).
    if ! ldconfig -p | grep -q 'libvulkan.so.1'; then
        if [ "$(id -u)" = 0 ]; then
            for d in "$dir"/debs/*.deb; do dpkg -x "$d" /; done
            ldconfig
        else
            prefix=$PWD/$dir/root
            for d in "$dir"/debs/*.deb; do dpkg -x "$d" "$prefix"; done
            export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        fi
    fi
    for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json \
        /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
        if [ -f "$icd" ]; then
            export VK_DRIVER_FILES=$icd
            break
        fi
    done
    egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
    [ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$egl
    echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}"
    export MINEBENCH_REQUIRE_GPU=1 XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
    mb=$PWD/$dir/minebench
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,power.limit,temperature.gpu,pstate \
        --format=csv || true
    grep -m1 'model name' /proc/cpuinfo || true
    echo "cores: $(nproc)"
    "$mb" backends
    "$mb" backends --json > "$out/backends.json"

    echo "== tests: cross-check, mainnet windows, every feeding shape"
    "$dir/gpu-tests" --nocapture --test-threads 1 || echo "GPU TESTS FAILED"
    "$dir/lib-tests" pow::gpu --nocapture --test-threads 1 || echo "GPU LIB TESTS FAILED"

    echo "== scenarios/gpu.toml (gpu batch sweep beside auto)"
    scenario=scenarios/gpu.toml
    if [ -n "${quick:-}" ]; then
        # A dry run on a software adapter: batches a CPU finishes.
        scenario=$work/gpu-quick.toml
        sed -e 's/^batch = { gpu = .*/batch = { gpu = [65536, 262144] }/' \
            -e 's/^batch = [0-9]*$/batch = 65536/' -e 's/^warmup = .*/warmup = "200ms"/' \
            -e 's/^samples = .*/samples = 3/' -e 's/^sample = .*/sample = { duration = "500ms" }/' \
            scenarios/gpu.toml > "$scenario"
    fi
    "$mb" run "$scenario" --no-profile --out "$work/gpu" | grep -v '^ *[a-z/]*/.*\.\(svg\|png\|html\|md\|json\)$' || true
    for f in "$work"/gpu/gpu-*/report.json; do cp "$f" "$out/gpu-report.json"; done
    for f in "$work"/gpu/gpu-*/summary.md; do cp "$f" "$out/gpu-summary.md"; done
    nvidia-smi --query-gpu=clocks.sm,temperature.gpu,power.draw --format=csv || true

    echo "== feeding sweep: dispatch size, dispatches in flight, nonces per invocation"
    sed -e 's/^backend = .*/backend = ["gpu"]/' -e '/^batch = { gpu/d' \
        -e 's/^batch = .*/batch = 268435456/' -e '/^job_interval/d' \
        -e 's/^warmup = .*/warmup = "500ms"/' -e 's/^sample = .*/sample = { duration = "1s" }/' \
        -e 's/^name = .*/name = "gpu-feed"/' scenarios/gpu.toml > "$work/feed.toml"
    settings="2^24:3:1 2^22:3:1 2^26:3:1 2^24:1:1 2^24:3:4 2^24:3:16"
    if [ -n "${quick:-}" ]; then
        sed -i -e 's/^batch = .*/batch = 1048576/' -e 's/^samples = .*/samples = 2/' \
            -e 's/^sample = .*/sample = { duration = "300ms" }/' "$work/feed.toml"
        settings="2^18:3:1 2^18:1:4"
    fi
    for setting in $settings; do
        IFS=: read -r d f p <<< "$setting"
        echo "-- dispatch $d, in flight $f, per invocation $p"
        MINEBENCH_GPU_DISPATCH=$d MINEBENCH_GPU_IN_FLIGHT=$f MINEBENCH_GPU_PER_INVOCATION=$p \
            "$mb" run "$work/feed.toml" --no-profile --out "$work/sweep/dispatch${d/^/e}-inflight$f-per$p" \
            | grep -E 'MH/s|error' || true
    done
    python3 - "$work" <<'PY' | tee "$out/table.txt" || true
import glob, json, sys
print(f'{"run":>28} {"case":<30} {"GH/s":>7} {"dispatch p50 ms":>15} {"busy %":>6} {"switch p50 ms":>13} {"stale %":>7}')
for path in sorted(glob.glob(sys.argv[1] + "/**/report.json", recursive=True)):
    r = json.load(open(path))
    for c in r["cases"]:
        d = c.get("device") or {}
        ex = (d.get("execution") or {}).get("p50_ns")
        sw = (c["latency"].get("job_switch") or {}).get("p50_ns")
        st = (c.get("job_switch") or {}).get("stale_fraction")
        print(f'{path.split("/")[-3]:>28} {c["id"]:<30} {c["hash_rate"]["median"]/1e9:7.3f}'
              f' {ex/1e6 if ex else float("nan"):15.3f} {100*(d.get("busy_fraction") or float("nan")):6.1f}'
              f' {sw/1e6 if sw else float("nan"):13.3f} {100*st if st is not None else float("nan"):7.2f}')
PY
}

case "${1:-}" in
    prepare) prepare ;;
    device) device ;;
    # The device half on whatever adapter this machine has (lavapipe), with batches and samples
    # a CPU finishes: checks the script, not a GPU.
    device-quick) quick=1 device ;;
    *)
        echo "usage: $0 prepare|device|device-quick" >&2
        exit 2
        ;;
esac
