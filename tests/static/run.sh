#!/usr/bin/env bash
# The static binary, proven: `file` says statically linked, and it runs inside an empty root
# (a fresh directory holding only the binary and an /etc/hosts, entered with chroot) against a
# real broker on 127.0.0.1, reached by a host name that only that /etc/hosts knows, and
# `kbatch count` gives the exact count produced by Kafka's Java producer. Then the same over
# SASL_SSL with SCRAM-SHA-512 against the testkit's secured broker, with only /etc/hosts and the
# CA file in the root: TLS (rustls on ring) and SCRAM need nothing from the host system.
# Then `kbatch export` to s3:// on moto's S3 server (from the project virtualenv, `make venv`),
# reached by a host name only the root's /etc/hosts knows: the object store's HTTP client
# (hyper + rustls on ring + kbatch's resolver) needs nothing from the host system either.
# Usage: tests/static/run.sh BINARY TESTKIT_BINARY   (needs root for chroot; CI runs as root)
set -euo pipefail
bin=$1
testkit=$2
fail() { echo "static test FAILED: $*" >&2; exit 1; }

info=$(file -L "$bin")
echo "$info"
case "$info" in
  *"statically linked"*|*"static-pie linked"*) ;;
  *) fail "not a static executable" ;;
esac
echo "size: $(stat -c %s "$bin") bytes"

[ "$(id -u)" = 0 ] || fail "chroot needs root (CI runs as root)"
work=$(mktemp -d)
state="$work/broker"
root="$work/root"
secure="$work/secure"
motopid=
cleanup() {
  [ -n "$motopid" ] && kill "$motopid" 2>/dev/null
  "$testkit" stop --dir "$state" >/dev/null 2>&1 || true
  "$testkit" stop --dir "$secure" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

boot=$("$testkit" start --dir "$state")
port=${boot##*:}
"$testkit" create-topic --bootstrap "$boot" --topic static_check --partitions 3
# The producer reports how many records Kafka acknowledged: that is the expected count.
expected=$("$testkit" produce-trending --bootstrap "$boot" --topic static_check --partitions 3 \
  --events 3000 --seed 5 --invalid 7 2>&1 | sed -n 's/.*produced \([0-9]*\) records.*/\1/p')
[ -n "$expected" ] || fail "the producer reported no count"

mkdir -p "$root/etc"
cp "$bin" "$root/kbatch"
printf '127.0.0.1 kafka-in-hosts-file\n' > "$root/etc/hosts"
echo "empty root: $(cd "$root" && find . | sort | tr '\n' ' ')"
out=$(chroot "$root" /kbatch count --bootstrap "kafka-in-hosts-file:$port" --topic static_check --timeout 20s)
echo "$out"
got=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])')
[ "$got" = "$expected" ] || fail "count in the empty root: $got, expected $expected"
# An unknown host name fails clearly, naming it.
if chroot "$root" /kbatch count --bootstrap "no-such-host:$port" --topic static_check --timeout 5s 2>"$work/err"; then
  fail "an unknown host name should fail"
fi
grep -q "no-such-host" "$work/err" || fail "error does not name the host: $(cat "$work/err")"
echo "static binary OK: $got records counted inside an empty root"

# Export to s3:// from the empty root (moto's S3 server on 127.0.0.1, named s3-in-hosts-file).
venv=${KBATCH_VENV:-$(cd "$(dirname "$0")/../.." && pwd)/.venv}
[ -x "$venv/bin/moto_server" ] || fail "$venv/bin/moto_server is missing: run make venv"
s3port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$venv/bin/moto_server" -H 127.0.0.1 -p "$s3port" >"$work/moto.log" 2>&1 &
motopid=$!
s3() { python3 - "$s3port" "$@" <<'PY'
import sys, time, urllib.request
port, method, path = sys.argv[1], sys.argv[2], sys.argv[3]
for _ in range(300):
    try:
        # moto checks no signature, but private objects refuse requests without credentials.
        auth = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0"
        r = urllib.request.urlopen(urllib.request.Request(
            f"http://127.0.0.1:{port}{path}", method=method, headers={"Authorization": auth}))
        sys.stdout.write(r.read().decode()); break
    except OSError as e:
        if getattr(e, "code", None): raise
        time.sleep(0.1)
else: sys.exit("moto did not answer")
PY
}
s3 PUT /static-export >/dev/null
printf '127.0.0.1 kafka-in-hosts-file s3-in-hosts-file\n' > "$root/etc/hosts"
AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \
AWS_ENDPOINT_URL="http://s3-in-hosts-file:$s3port" AWS_ALLOW_HTTP=true \
  chroot "$root" /kbatch export --bootstrap "kafka-in-hosts-file:$port" --topic static_check \
  --timeout 20s --output s3://static-export/run1 >"$work/manifest.json" || fail "export to s3:// in the empty root"
got=$(s3 GET /static-export/run1/_manifest.json | python3 -c 'import json,sys; print(sum(p["records"] for p in json.load(sys.stdin)["partitions"]))')
[ "$got" = "$expected" ] || fail "exported records in the manifest: $got, expected $expected"
files=$(s3 GET '/static-export?list-type=2&prefix=run1/' | grep -o '<Key>[^<]*parquet</Key>' | wc -l)
[ "$files" -ge 1 ] || fail "no Parquet object was written"
echo "static binary OK: $got records exported to s3:// ($files Parquet objects) inside an empty root"

# SASL_SSL + SCRAM-SHA-512 in the empty root: the broker advertises `localhost`, the name in its
# certificate, which only the root's /etc/hosts resolves.
"$testkit" start-secure --dir "$secure" > "$work/secure.env"
val() { sed -n "s/^$1=//p" "$work/secure.env"; }
plain=$(val plaintext); sasl=$(val sasl_ssl)
"$testkit" create-topic --bootstrap "$plain" --topic static_secure --partitions 2
expected=$("$testkit" produce-trending --bootstrap "$plain" --topic static_secure --partitions 2 \
  --events 2000 --seed 11 2>&1 | sed -n 's/.*produced \([0-9]*\) records.*/\1/p')
[ -n "$expected" ] || fail "the producer reported no count (secured broker)"
printf '127.0.0.1 localhost\n' > "$root/etc/hosts"
cp "$(val ca)" "$root/ca.pem"
echo "empty root: $(cd "$root" && find . | sort | tr '\n' ' ')"
out=$(chroot "$root" /kbatch count --bootstrap "$sasl" --topic static_secure --timeout 20s \
  -X security.protocol=SASL_SSL -X sasl.mechanism=SCRAM-SHA-512 \
  -X "sasl.username=$(val user)" -X "sasl.password=$(val password)" -X ssl.ca.location=/ca.pem)
echo "$out"
got=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])')
[ "$got" = "$expected" ] || fail "SASL_SSL count in the empty root: $got, expected $expected"
echo "static binary OK: $got records counted over SASL_SSL SCRAM-SHA-512 inside an empty root"
