#!/usr/bin/env bash
# The static binary, proven: `file` says statically linked, and it runs inside an empty root
# (a fresh directory holding only the binary and an /etc/hosts, entered with chroot) against a
# real broker on 127.0.0.1, reached by a host name that only that /etc/hosts knows, and
# `kbatch count` gives the exact count produced by Kafka's Java producer. Then the same over
# SASL_SSL with SCRAM-SHA-512 against the testkit's secured broker, with only /etc/hosts and the
# CA file in the root: TLS (rustls on ring) and SCRAM need nothing from the host system.
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
cleanup() {
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
