#!/usr/bin/env bash
# The throughput benchmark: coffer, moto and Ceph's radosgw side by side
# on loopback, in one run, against this machine's own limits.
#
# usage: bench/run.sh [--quick] [--no-radosgw] [--no-moto] [--keep]
#   --quick       short runs (one of each, ~1.5 s), small fills: about a
#                 minute; proves the harness works, numbers are rough
#   --no-radosgw  --no-moto   leave a peer out
#   --keep        keep the work directory (logs, data) at the end
# env: BENCH_DIR (work directory; default a new one under /tmp),
#      BENCH_BUILD (build directory, relative to the repository or
#      absolute; default build-bench; "build" reuses scripts/test's),
#      RADOSGW_SH (default ../shared/peers/radosgw.sh beside the repo)
#
# Prints the table: workload, machine limit, radosgw, moto, coffer, and
# coffer's ratios to each; then server CPU seconds per GiB for a 64 MiB
# SSE-KMS PUT and each server's peak RSS.  Every number is the median of
# three timed runs (one in quick mode).  Servers are started here, on
# 127.0.0.1 ports picked free, and stopped by pid at the end.  A peer
# that cannot start is skipped and its column reads "-".  Exits 1 when
# coffer did not start or failed any request, else 0.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
quick=0 use_rgw=1 use_moto=1 keep=0
for a in "$@"; do
    case "$a" in
    --quick) quick=1 ;;
    --no-radosgw) use_rgw=0 ;;
    --no-moto) use_moto=0 ;;
    --keep) keep=1 ;;
    *) echo "usage: bench/run.sh [--quick] [--no-radosgw] [--no-moto]" \
            "[--keep]" >&2; exit 2 ;;
    esac
done

if [ $quick -eq 1 ]; then
    secs=1.5 runs=1 fill=200 lsecs=1
else
    secs=5 runs=3 fill=2000 lsecs=3
fi
build=${BENCH_BUILD:-build-bench}
case "$build" in /*) ;; *) build=$top/$build ;; esac
work=${BENCH_DIR:-$(mktemp -d /tmp/coffer-bench.XXXXXX)}
mkdir -p "$work"
results=$work/results
: > "$results"
rgw_sh=${RADOSGW_SH:-$top/../shared/peers/radosgw.sh}
started=()          # "name pid" of what we started, to stop at the end
rgw_up=0
t_start=$(date +%s)

say() { echo "bench: $*" >&2; }

# Stop what we started, by pid; radosgw the way its script says.
cleanup() {
    local e
    for e in "${started[@]}"; do
        stop_pid "${e#* }"
    done
    if [ $rgw_up -eq 1 ]; then
        "$rgw_sh" stop "$work/rgw" >/dev/null 2>&1 || true
    fi
    if [ $keep -eq 0 ]; then
        rm -rf "$work"
    else
        say "work directory kept: $work"
    fi
}
trap cleanup EXIT

stop_pid() {
    local p=$1 i
    kill -0 "$p" 2>/dev/null || return 0
    kill -TERM "$p" 2>/dev/null
    for i in $(seq 1 50); do
        kill -0 "$p" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$p" 2>/dev/null || true
}

freeport() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0));
print(s.getsockname()[1])'
}

wait_port() {
    local port=$1 n
    for n in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    return 1
}

record() { echo "$1 $2 $3" >> "$results"; }

# CPU ticks (user + system) of the given pids, summed.
cpu_ticks() {
    local p t=0 f
    for p in "$@"; do
        f=$(cut -d' ' -f14,15 "/proc/$p/stat" 2>/dev/null) || continue
        t=$((t + ${f% *} + ${f#* }))
    done
    echo $t
}

# Peak resident set of the given pids, summed, in MiB.
peak_rss() {
    local p k=0 v
    for p in "$@"; do
        v=$(awk '/^VmHWM:/ {print $2}' "/proc/$p/status" 2>/dev/null)
        k=$((k + ${v:-0}))
    done
    echo $((k / 1024))
}

# --- build -------------------------------------------------------------
"$top/scripts/deps.sh" || exit 1
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$top" >/dev/null || exit 1
fi
ninja -C "$build" >/dev/null || { say "build failed"; exit 1; }
lg=$build/bench/loadgen
lim=$build/bench/limits
if [ ! -x "$lg" ]; then
    say "no loadgen: libcurl4-openssl-dev missing?"
    exit 1
fi

result_of() { sed -n 's/^RESULT .*'"$1"'=\([0-9.]*\).*/\1/p' | tail -1; }

# lgrun NAME WORKLOAD FIELD loadgen-args...: run, keep the output, record
# the median's FIELD (ops or mbps); failed requests are reported.
lgrun() {
    local name=$1 wl=$2 field=$3 out=$work/$1-$2.out e
    shift 3
    "$lg" "$@" > "$out"
    record "$name" "$wl" "$(result_of "$field" < "$out")"
    e=$(sed -n 's/^RESULT .*errors=\([0-9]*\).*/\1/p' "$out")
    if [ "${e:-1}" != 0 ]; then
        say "$name $wl: ${e:-all} requests failed (see $out)"
        [ "$name" = coffer ] && coffer_failed=1
    fi
}
coffer_failed=0

# --- machine limits ----------------------------------------------------
say "machine limits"
record limit put4k "$("$lim" fsync "$work" "$lsecs" | sed -n \
    's/.*fsync_commits=\([0-9.]*\).*/\1/p')"
record limit put1m "$("$lim" hash "$lsecs" | sed -n \
    's/.*hash_pass=\([0-9.]*\).*/\1/p')"
record limit disk1m "$("$lim" disk "$work" "$lsecs" | sed -n \
    's/.*disk_1m=\([0-9.]*\).*/\1/p')"
record limit get64m "$("$lim" tcp "$lsecs" | sed -n \
    's/.*tcp_stream=\([0-9.]*\).*/\1/p')"
nport=$(freeport)
"$lim" null "$nport" $((runs * 2 * ${secs%.*} + 20)) > "$work/null.out" &
npid=$!
started+=("null $npid")
if wait_port "$nport"; then
    common=(--endpoint "http://127.0.0.1:$nport" --access-key x
            --secret-key y --seconds "$secs" --runs "$runs")
    lgrun limit get4k ops "${common[@]}" --concurrency 8 --objects 100 get
    lgrun limit gdk ops "${common[@]}" --concurrency 8 --kms-key k gdk
fi
stop_pid "$npid"

# --- one server's workloads --------------------------------------------
# bench NAME ENDPOINT AK SK KMSKEY PIDS...
bench_server() {
    local name=$1 ep=$2 ak=$3 sk=$4 kkey=$5
    shift 5
    local pids=("$@") c0 c1 out
    local base=(--endpoint "$ep" --access-key "$ak" --secret-key "$sk"
                --bucket bench --seconds "$secs" --runs "$runs")

    # A short warm-up: a fresh radosgw is slow for its first seconds.
    "$lg" "${base[@]}" --concurrency 8 --size 4096 --prefix warm \
        --objects 200 fill >/dev/null

    say "$name: PUT 4 KiB, c=8"
    lgrun "$name" put4k ops "${base[@]}" --concurrency 8 --size 4096 \
        --prefix p4k put

    say "$name: GET 4 KiB, c=8"
    "$lg" "${base[@]}" --concurrency 8 --size 4096 --prefix g4k \
        --objects "$fill" fill >/dev/null
    lgrun "$name" get4k ops "${base[@]}" --concurrency 8 --prefix g4k \
        --objects "$fill" get

    say "$name: PUT 1 MiB SSE-KMS, c=1"
    lgrun "$name" put1m mbps "${base[@]}" --concurrency 1 --size 1048576 \
        --sse-kms "$kkey" --prefix p1m put

    say "$name: PUT 64 MiB SSE-KMS, c=1 (CPU per GiB)"
    c0=$(cpu_ticks "${pids[@]}")
    out=$("$lg" "${base[@]}" --runs 1 --concurrency 1 \
          --size $((64 << 20)) --sse-kms "$kkey" --prefix p64m put)
    c1=$(cpu_ticks "${pids[@]}")
    record "$name" cpugib "$(echo "$out" | python3 -c '
import sys, re
m = re.search(r"^RESULT .*bytes=(\d+)", sys.stdin.read(), re.M)
b = int(m.group(1)) if m else 0
t = (int(sys.argv[2]) - int(sys.argv[1])) / float(sys.argv[3])
print("%.2f" % (t / (b / 2**30)) if b else "")' "$c0" "$c1" \
        "$(getconf CLK_TCK)")"

    say "$name: GET 64 MiB SSE-KMS, c=1"
    "$lg" "${base[@]}" --concurrency 1 --size $((64 << 20)) \
        --sse-kms "$kkey" --prefix g64m --objects 1 fill >/dev/null
    lgrun "$name" get64m mbps "${base[@]}" --concurrency 1 --prefix g64m \
        --objects 1 get

    if [ -n "$kkey" ] && [ "$name" != radosgw ]; then
        say "$name: KMS GenerateDataKey, c=8"
        lgrun "$name" gdk ops "${base[@]}" --concurrency 8 \
            --kms-key "$kkey" gdk
    fi
    record "$name" rss "$(peak_rss "${pids[@]}")"
}

# The aws CLI for set-up calls only, with test credentials and no config.
awscli() {
    local ep=$1 ak=$2 sk=$3
    shift 3
    AWS_ACCESS_KEY_ID=$ak AWS_SECRET_ACCESS_KEY=$sk \
    AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null \
    AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_EC2_METADATA_DISABLED=true \
        aws --endpoint-url "$ep" "$@"
}

# --- coffer ------------------------------------------------------------
run_coffer() {
    local port ak=AKIDCOFFERBENCH00001 sk pid key
    sk=$(head -c 30 /dev/urandom | base64 | tr -d '/+=' | head -c 40)
    port=$(freeport)
    COFFER_ROOT_ACCESS_KEY_ID=$ak COFFER_ROOT_SECRET_ACCESS_KEY=$sk \
        "$build/coffer" server --data "$work/coffer" \
        --listen "127.0.0.1:$port" --access-log "$work/coffer.access" \
        > "$work/coffer.log" 2>&1 &
    pid=$!
    started+=("coffer $pid")
    if ! wait_port "$port"; then
        say "coffer did not start: $(tail -3 "$work/coffer.log")"
        return 1
    fi
    awscli "http://127.0.0.1:$port" "$ak" "$sk" s3api create-bucket \
        --bucket bench >/dev/null
    key=$(awscli "http://127.0.0.1:$port" "$ak" "$sk" kms create-key \
          --query KeyMetadata.KeyId --output text)
    bench_server coffer "http://127.0.0.1:$port" "$ak" "$sk" "$key" "$pid"
    stop_pid "$pid"
}

# --- moto --------------------------------------------------------------
run_moto() {
    local port ak=AKIDMOTOBENCH0000001 sk=motosecret pid key
    if ! command -v moto_server >/dev/null; then
        say "moto_server not on PATH: skipped"
        return 0
    fi
    port=$(freeport)
    moto_server -H 127.0.0.1 -p "$port" > "$work/moto.log" 2>&1 &
    pid=$!
    started+=("moto $pid")
    if ! wait_port "$port"; then
        say "moto did not start: skipped"
        return 0
    fi
    awscli "http://127.0.0.1:$port" "$ak" "$sk" s3api create-bucket \
        --bucket bench >/dev/null
    key=$(awscli "http://127.0.0.1:$port" "$ak" "$sk" kms create-key \
          --query KeyMetadata.KeyId --output text)
    bench_server moto "http://127.0.0.1:$port" "$ak" "$sk" "$key" "$pid"
    stop_pid "$pid"
}

# --- radosgw -----------------------------------------------------------
run_rgw() {
    if [ ! -x "$rgw_sh" ] || ! command -v radosgw >/dev/null; then
        say "radosgw (or $rgw_sh) not installed: skipped"
        return 0
    fi
    say "radosgw: starting (about 20 s)"
    rgw_up=1
    if ! OSD_MEMORY_TARGET=1G "$rgw_sh" start "$work/rgw" \
            > "$work/rgw.start" 2>&1; then
        say "radosgw did not start: skipped ($(tail -2 "$work/rgw.start"))"
        return 0
    fi
    # shellcheck disable=SC1091
    . "$work/rgw/env"
    awscli "$RGW_ENDPOINT" "$RGW_ACCESS_KEY" "$RGW_SECRET_KEY" s3api \
        create-bucket --bucket bench >/dev/null
    bench_server radosgw "$RGW_ENDPOINT" "$RGW_ACCESS_KEY" \
        "$RGW_SECRET_KEY" "$RGW_KMS_KEY_ID" "$RGW_PID" "$OSD_PID" "$MON_PID"
    "$rgw_sh" stop "$work/rgw" >/dev/null 2>&1
    rgw_up=0
}

run_coffer || coffer_failed=1
[ $use_moto -eq 1 ] && run_moto
[ $use_rgw -eq 1 ] && run_rgw

# --- the table ---------------------------------------------------------
python3 - "$results" "$quick" "$(( $(date +%s) - t_start ))" <<'EOF'
import sys

res = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) == 3 and parts[2]:
        res[(parts[0], parts[1])] = float(parts[2])

rows = [
    ("put4k", "PUT 4 KiB, durable, c=8", "/s", "fsync'd commits/s serial",
     5000),
    ("get4k", "GET 4 KiB, c=8", "/s", "do-nothing C server", 15000),
    ("put1m", "PUT 1 MiB SSE-KMS, c=1", "MB/s",
     "MD5+SHA-256+AES-GCM, one pass, one core", 450),
    ("get64m", "GET 64 MiB SSE-KMS, c=1", "MB/s", "one loopback TCP stream",
     2250),
    ("gdk", "KMS GenerateDataKey, c=8", "/s", "do-nothing C server", 15000),
]

def num(v, unit=""):
    if v is None:
        return "-"
    return ("{:,.0f}".format(v) if v >= 100 else "{:.2f}".format(v)) + unit

def ratio(a, b):
    return "%.1fx" % (a / b) if a is not None and b else "-"

print()
print("| workload | machine limit | radosgw | moto | coffer | target "
      "| coffer/radosgw | coffer/moto | coffer/limit |")
print("|---|---|---|---|---|---|---|---|---|")
for key, name, unit, lname, target in rows:
    g = lambda who: res.get((who, key))
    c = g("coffer")
    met = "" if c is None else (" ok" if c >= target else " MISSED")
    print("| %s | %s (%s) | %s | %s | %s | >= %s%s | %s | %s | %s |" % (
        name, num(g("limit"), " " + unit), lname, num(g("radosgw")),
        num(g("moto")), num(c, " " + unit), num(target), met,
        ratio(c, g("radosgw")), ratio(c, g("moto")),
        "%.2f" % (c / g("limit")) if c and g("limit") else "-"))
g = lambda who: res.get((who, "disk1m"))
print("| (durable 1 MiB writes: write + fsync, serial) | %s | | | | | | | %s |"
      % (num(g("limit"), " MB/s"),
         "%.2f" % (res[("coffer", "put1m")] / g("limit"))
         if g("limit") and ("coffer", "put1m") in res else "-"))
g = lambda who: res.get((who, "cpugib"))
c = g("coffer")
print("| server CPU s per GiB, 64 MiB SSE-KMS PUT | - | %s | %s | %s | "
      "<= 2.5%s | | | |" % (num(g("radosgw")), num(g("moto")), num(c),
                            "" if c is None else
                            (" ok" if c <= 2.5 else " MISSED")))
g = lambda who: res.get((who, "rss"))
print("| peak RSS, MiB | - | %s | %s | %s | | | | |" % (
    num(g("radosgw")), num(g("moto")), num(g("coffer"))))
print()
print("%s mode, %s s; medians of %s runs; radosgw counts rgw+osd+mon" % (
    "quick" if sys.argv[2] == "1" else "full", sys.argv[3],
    "1" if sys.argv[2] == "1" else "3"))
EOF

# The exit status says whether coffer answered every request: CI runs
# the quick mode to prove that the harness and the server still work.
exit $coffer_failed
