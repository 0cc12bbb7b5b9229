#!/usr/bin/env bash
# kbatch trending, and the tuned rdkafka reader (benches' `rdkafka_trending`, built with its
# `ssl` feature), over PLAINTEXT and over SASL_SSL (TLS + SCRAM-SHA-512) of the testkit's
# secured broker: same data, same run; 8 partitions, lz4, EVENTS (default 2 M) events of the
# realistic MIX (default `flat`, ~460-byte web events; `sample` for the ~100-byte sample events),
# ROUNDS (default 5) rounds. Needs `make kafka release bench-build`. Prints wall and CPU seconds
# per run.
set -euo pipefail
cd "$(dirname "$0")/.."
tk=target/release/kbatch-testkit; kb=target/release/kbatch
rk=benches/target/release/rdkafka_trending
dir=$(mktemp -d)/broker
trap '$tk stop --dir $dir >/dev/null 2>&1 || true' EXIT
$tk start-secure --dir $dir > $dir.env
val() { sed -n "s/^$1=//p" $dir.env; }
plain=$(val plaintext); sasl=$(val sasl_ssl); ca=$(val ca); user=$(val user); pw=$(val password)
$tk create-topic --bootstrap $plain --topic bench --partitions 8
mix=${MIX:-flat}; mixarg=(); [ "$mix" = sample ] || mixarg=(--mix "$mix")
$tk produce-trending --bootstrap $plain --topic bench --partitions 8 --events ${EVENTS:-2000000} \
  --compression lz4 "${mixarg[@]}" 2>&1 | tail -1
secured=(-X security.protocol=SASL_SSL -X sasl.mechanism=SCRAM-SHA-512 -X sasl.username=$user
  -X sasl.password=$pw -X ssl.ca.location=$ca)
for round in $(seq 1 ${ROUNDS:-5}); do
  for reader in kbatch rdkafka; do
    for mode in plaintext sasl_ssl; do
      if [ $mode = plaintext ]; then args=(--bootstrap $plain); else args=(--bootstrap $sasl "${secured[@]}"); fi
      if [ $reader = kbatch ]; then cmd=($kb trending --topic bench --top 3); else cmd=($rk --topic bench --top 3); fi
      [ $reader = kbatch ] || [ -x $rk ] || continue
      /usr/bin/time -f "$reader $mode round $round: wall %e s user %U s sys %S s" \
        "${cmd[@]}" "${args[@]}" >/dev/null 2>$dir.err || { cat $dir.err; exit 1; }
      tail -1 $dir.err
    done
  done
done
