#!/usr/bin/env bash
# kbatch trending over PLAINTEXT and over SASL_SSL (TLS + SCRAM-SHA-512) of the testkit's secured
# broker, same data, same run: 8 partitions, lz4, EVENTS (default 1 M) events, 5 rounds.
# Needs `make kafka release`. Prints wall and CPU seconds per run (summary lines from kbatch too).
set -euo pipefail
cd "$(dirname "$0")/.."
tk=target/release/kbatch-testkit; kb=target/release/kbatch
dir=$(mktemp -d)/broker
trap '$tk stop --dir $dir >/dev/null 2>&1 || true' EXIT
$tk start-secure --dir $dir > $dir.env
val() { sed -n "s/^$1=//p" $dir.env; }
plain=$(val plaintext); sasl=$(val sasl_ssl); ca=$(val ca); user=$(val user); pw=$(val password)
$tk create-topic --bootstrap $plain --topic bench --partitions 8
$tk produce-trending --bootstrap $plain --topic bench --partitions 8 --events ${EVENTS:-1000000} --compression lz4 2>&1 | tail -1
for round in 1 2 3 4 5; do
  for mode in plaintext sasl_ssl; do
    if [ $mode = plaintext ]; then extra=(--bootstrap $plain); else
      extra=(--bootstrap $sasl -X security.protocol=SASL_SSL -X sasl.mechanism=SCRAM-SHA-512 -X sasl.username=$user -X sasl.password=$pw -X ssl.ca.location=$ca); fi
    /usr/bin/time -f "$mode round $round: wall %e s user %U s sys %S s" $kb trending --topic bench --top 3 "${extra[@]}" >/dev/null 2>>$dir.err
    tail -2 $dir.err
  done
done
