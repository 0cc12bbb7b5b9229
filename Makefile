# Every CI step is a make target; .ci/run calls `make test`.
#   make demo   - the main job end to end: installs Kafka jars, starts a local broker, loads
#                 sample browsing events, runs `kbatch trending --top 3`, stops the broker
#   make check  - the inner loop: fmt, clippy, docs, unit and table tests; no brokers
#   make test   - everything CI checks: fmt, clippy, docs, unit tests, real-broker tests
#   make soak   - the rolling-restart soak on a 3-node cluster for SOAK_SECS (default 600 s)
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

KAFKA_VERSION := 4.3.1
CACHE         := $(CURDIR)/.cache
KAFKA_LIBS    := $(CACHE)/kafka-$(KAFKA_VERSION)/libs
KAFKA_MARKER  := $(KAFKA_LIBS)/.complete
VENV          := $(CURDIR)/.venv
VENV_MARKER   := $(VENV)/.complete-$(shell cat python/requirements-test.txt 2>/dev/null | cksum | cut -d' ' -f1)
export KBATCH_VENV := $(VENV)
CARGO         ?= cargo
export KBATCH_KAFKA_LIBS := $(KAFKA_LIBS)


.PHONY: all setup kafka build release check test test-rust test-unit test-e2e soak lint fmt-check clippy doc demo \
        fixtures static test-static clean-cache bench bench-e2e bench-e2e-realistic bench-smoke \
        fuzz-build fuzz fuzz-check fuzz-smoke bench-build bench-franz-build test-aarch64 venv python test-python \
        venv-bench bench-arrow bench-top bench-registry bench-trending-avro venv-spark test-spark spark-kafka-jars bench-spark test-bin registry

all: build

## Apache Kafka (broker, tools, clients) and their dependencies, once, into a git-ignored cache.
kafka: $(KAFKA_MARKER)
$(KAFKA_MARKER): crates/kbatch-testkit/java/pom.xml
	@command -v mvn >/dev/null || { echo "mvn (Maven) is required"; exit 1; }
	@command -v java >/dev/null || { echo "java (17+) is required"; exit 1; }
	mkdir -p $(KAFKA_LIBS)
	mvn -q -B -f crates/kbatch-testkit/java/pom.xml dependency:copy-dependencies \
	    -DincludeScope=runtime -DoutputDirectory=$(KAFKA_LIBS)
	touch $@

## Apicurio Registry (a Schema Registry with a Confluent-compatible API) for the tests of
## registry-framed values: from Maven (default settings) into the git-ignored cache, once.
## It runs on Java 17 (3.x would need Java 21).
REGISTRY_VERSION := 2.6.13.Final
REGISTRY_HOME    := $(CACHE)/apicurio-registry-$(REGISTRY_VERSION)
REGISTRY_MARKER  := $(REGISTRY_HOME)/.complete
export KBATCH_REGISTRY_HOME := $(REGISTRY_HOME)
registry: $(REGISTRY_MARKER)
$(REGISTRY_MARKER):
	@command -v mvn >/dev/null || { echo "mvn (Maven) is required"; exit 1; }
	rm -rf $(REGISTRY_HOME) $(REGISTRY_HOME).download
	mvn -q -B dependency:copy -Dartifact=io.apicurio:apicurio-registry-app:$(REGISTRY_VERSION):tar.gz:all \
	    -DoutputDirectory=$(REGISTRY_HOME).download
	mkdir -p $(REGISTRY_HOME)
	tar -xzf $(REGISTRY_HOME).download/apicurio-registry-app-$(REGISTRY_VERSION)-all.tar.gz -C $(REGISTRY_HOME)
	rm -rf $(REGISTRY_HOME).download
	touch $@

build:
	$(CARGO) build --workspace

## The project virtualenv (git-ignored .venv/): pytest, pyarrow, maturin, the S3-compatible
## test server (moto). Created once; recreated when python/requirements-test.txt changes.
venv: $(VENV_MARKER)
$(VENV_MARKER): python/requirements-test.txt
	@command -v python3 >/dev/null || { echo "python3 (3.9+) is required"; exit 1; }
	rm -rf $(VENV)
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r python/requirements-test.txt
	touch $@

## pyspark (python/requirements-spark.txt) on top of the project virtualenv, for kbatch.spark.
## Its own marker: changing it never recreates the venv; recreating the venv drops the marker.
SPARK_MARKER := $(VENV)/.complete-spark-$(shell cat python/requirements-spark.txt 2>/dev/null | cksum | cut -d' ' -f1)
venv-spark: venv $(SPARK_MARKER)
$(SPARK_MARKER): python/requirements-spark.txt $(VENV_MARKER)
	$(VENV)/bin/pip install -q -r python/requirements-spark.txt
	touch $@

## The Python package (python/): a release wheel built by the venv's maturin and installed into
## the venv; rebuilt only when a Rust or Python source, a manifest or the venv changed.
WHEELS       := target/wheels
WHEEL_MARKER := $(WHEELS)/.installed
PY_SOURCES   := $(shell find crates python -path '*/target' -prune -o -path python/tests -prune -o \
                  \( -name '*.rs' -o -name '*.py' -o -name '*.pyi' -o -name Cargo.toml \
                     -o -name pyproject.toml -o -name py.typed \) -print) Cargo.toml Cargo.lock
python: $(WHEEL_MARKER)
$(WHEEL_MARKER): $(VENV_MARKER) $(PY_SOURCES)
	rm -f $(WHEELS)/kbatch-*.whl
	$(VENV)/bin/maturin build --release -m python/Cargo.toml -o $(WHEELS)
	$(VENV)/bin/pip install -q --no-deps --force-reinstall $(WHEELS)/kbatch-*.whl
	touch $@

## The binaries the Python, Spark and static tests run: the shipped artifact (`make static`'s
## stripped kbatch) and the testkit of the test build (`cargo test --workspace` builds it for its
## own tests; `--no-run` is a no-op after `make test-rust`). So `make test` compiles no separate
## release build of the CLI: one profile fewer on a cold machine.
TEST_BIN := $(CURDIR)/target/testbin
test-bin: static
	$(CARGO) test --workspace --no-run
	mkdir -p $(TEST_BIN)
	ln -sf $(CURDIR)/$(STATIC_BIN) $(TEST_BIN)/kbatch
	ln -sf $(CURDIR)/target/debug/kbatch-testkit $(TEST_BIN)/kbatch-testkit

## pytest against real brokers (started by the testkit binary), data from Kafka's Java producer.
test-python: venv kafka registry python test-bin
	KBATCH_BIN_DIR=$(TEST_BIN) \
	    $(VENV)/bin/python -m pytest -q -p no:cacheprovider python/tests --ignore=python/tests/spark

release:
	$(CARGO) build --release -p kbatch-cli -p kbatch-testkit

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

lint: fmt-check clippy doc

## The inner loop, no brokers and no JVM: formatting, lints, rustdoc, and every test that needs no
## server (unit and table tests, doc tests, the records crate's fixture tests), and ruff and mypy
## --strict on the Python package (mypy reads pyspark's types, hence venv-spark).
check: lint venv-spark
	$(VENV)/bin/ruff check python/kbatch
	$(VENV)/bin/mypy --config-file python/pyproject.toml python/kbatch
	$(CARGO) test --workspace --lib --bins --test fixtures --test mock_broker
	$(CARGO) test --workspace --doc

## Every cargo test invocation selects the whole workspace (`--workspace`), so Cargo resolves one
## feature set and compiles each dependency once for all of them; `-p CRATE` would resolve the
## features of that crate alone and rebuild the shared dependencies (six minutes here).
##
## All Rust tests: unit and table tests, doc tests, the libraries' tests against a real broker,
## and the end-to-end tests of the binary (the testkit starts one Kafka per test binary and reaps
## it; `export` also uses moto's S3 server and pyarrow from the project virtualenv).
## The rolling-restart soak is `make soak`'s. Four test threads: most end-to-end tests wait on
## brokers, and the tests that share the 3-node cluster queue for it, each holding a thread.
E2E_SKIP := --skip soak::rolling_restart_soak
test-rust: kafka registry venv
	$(CARGO) test --workspace -- --test-threads=4 $(E2E_SKIP)

## The same, without the end-to-end suite / only the end-to-end suite.
test-unit: kafka
	$(CARGO) test --workspace --lib --bins --examples --test broker --test embedding \
	    --test mock_broker --test fixtures
	$(CARGO) test --workspace --doc
test-e2e: kafka registry venv
	$(CARGO) test --workspace --test e2e -- --test-threads=4 $(E2E_SKIP)

## Everything CI checks, stage by stage after `setup`; each stage's time is printed, and the first
## failing stage stops the run with its name.
## Benchmarks (`make bench-smoke`, `make bench-e2e`, `make bench-arrow`, `make bench-top`) and the long soak
## (`make soak`) have their own targets.
TEST_STAGES := kafka lint test-rust test-static test-python test-spark fuzz-smoke
test: setup
	@for stage in $(TEST_STAGES); do \
	    start=$$(date +%s); \
	    if ! $(MAKE) --no-print-directory $$stage; then \
	        echo "make test: stage $$stage FAILED after $$(( $$(date +%s) - start )) s" >&2; exit 1; \
	    fi; \
	    echo "make test: stage $$stage took $$(( $$(date +%s) - start )) s"; \
	done

## Spark's own Kafka source at pyspark's version (python/tests/spark/pom.xml): the connector,
## the Kafka client and commons-pool2, the jars pyspark does not ship; given to Spark as
## spark.jars by the comparison test and bench-spark.
SPARK_VERSION     := 4.2.0
SPARK_KAFKA_JARS  := $(CACHE)/spark-kafka-$(SPARK_VERSION)
SPARK_KAFKA_MARKER := $(SPARK_KAFKA_JARS)/.complete
export KBATCH_SPARK_KAFKA_JARS := $(SPARK_KAFKA_JARS)
spark-kafka-jars: $(SPARK_KAFKA_MARKER)
$(SPARK_KAFKA_MARKER): python/tests/spark/pom.xml
	@command -v mvn >/dev/null || { echo "mvn (Maven) is required"; exit 1; }
	rm -rf $(SPARK_KAFKA_JARS)
	mkdir -p $(SPARK_KAFKA_JARS)
	mvn -q -B -f python/tests/spark/pom.xml dependency:copy-dependencies -DincludeScope=runtime \
	    -DincludeArtifactIds=spark-sql-kafka-0-10_2.13,spark-token-provider-kafka-0-10_2.13,kafka-clients,commons-pool2 \
	    -DoutputDirectory=$(SPARK_KAFKA_JARS)
	touch $@

## kbatch.spark (python/kbatch/spark): pure option/plan tests, then the data source on local[2]
## and on a standalone cluster (master + two one-core workers from pyspark's spark-class)
## against a real broker, and against Spark's own Kafka source on the same range.
## The package is the venv's (`make python`); pytest runs from the repository root because
## Spark's Python workers start in the driver's directory, and in python/ they would import the
## source tree's kbatch (no native module) instead.
test-spark: kafka venv-spark python spark-kafka-jars test-bin
	KBATCH_BIN_DIR=$(TEST_BIN) \
	    $(VENV)/bin/python -P -m pytest -q -p no:cacheprovider python/tests/spark $(PYTEST_ARGS)

## The Spark benchmark: the trending query as Spark's Kafka source + SQL, kbatch's source + the
## same SQL, and kbatch's pushdown, on a standalone cluster (a master and two one-core workers,
## started as the tests start theirs), 4 M realistic events, 3 rounds; writes
## benches/results/<date>-<host>-spark-standalone.md. BENCH_SPARK_ARGS="--cluster local --cores
## 1,2 --count" runs local mode instead (<date>-<host>-spark.md); "--rounds 1 --warmup 0" and a
## smaller BENCH_SPARK_EVENTS for a quick look.
BENCH_SPARK_EVENTS ?= 4000000
BENCH_SPARK_ARGS   ?= --cluster standalone --rounds 3
bench-spark: kafka release venv-spark python spark-kafka-jars
	KBATCH_BIN_DIR=$(CURDIR)/target/release \
	    $(VENV)/bin/python benches/python/bench_spark.py --events $(BENCH_SPARK_EVENTS) $(BENCH_SPARK_ARGS)

## Every node of a 3-node cluster stopped and restarted in turn, again and again, while
## `kbatch dump` reads a replicated topic in a loop; prints "soak: ... reads, ... records,
## lost 0, duplicated 0". (`make test` runs one full rolling restart of the same test.)
SOAK_SECS ?= 600
soak: kafka
	KBATCH_SOAK_SECS=$(SOAK_SECS) $(CARGO) test --workspace --test e2e soak:: -- --nocapture

## cargo-fuzz targets (their own workspaces under crates/*/fuzz), built without a sanitizer
## so the stable toolchain suffices, all into one target directory (they share dependencies).
## cargo-fuzz itself is installed by `make setup`, never as a side effect of these targets.
## Run one: make fuzz TARGET=decode_batches CRATE=kbatch-records
## Committed seeds (`fuzz/seeds/<target>/`, e.g. the extractor's realistic events) and crash
## inputs kept as regressions (`fuzz/regressions/<target>/`) are read too;
## KBATCH_SIMD=portable|sse2|avx2|avx512 makes the trending target run one instruction-set form.
FUZZ_CRATES     := kbatch-records kbatch-wire kbatch-trending kbatch-reader
FUZZ_TARGETS    := kbatch-records:decode_batches kbatch-wire:responses \
                   kbatch-wire:fetch_then_batches kbatch-trending:extract kbatch-trending:extract_paths \
                   kbatch-reader:fetch_driver
FUZZ_TARGET_DIR := $(CURDIR)/target/fuzz
FUZZ_REQUIRE    := command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is missing: run make setup"; exit 1; }

## Tools `make test` needs beyond the Rust toolchain.
## Installs only what is missing: the Rust toolchain's rustfmt and clippy, cargo-fuzz, and the
## OpenSSL headers the rdkafka comparison reader links (Debian's libssl-dev).
setup:
	rustup component add rustfmt clippy
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	@dpkg -s libssl-dev >/dev/null 2>&1 || { command -v apt-get >/dev/null && \
	    (apt-get install -y -q libssl-dev || (apt-get update -q && apt-get install -y -q libssl-dev)); } || \
	    { echo "libssl-dev (OpenSSL headers) is required to build the rdkafka comparison reader"; exit 1; }

fuzz-build:
	@$(FUZZ_REQUIRE)
	for c in $(FUZZ_CRATES); do (cd crates/$$c && $(CARGO) fuzz build -s none --fuzz-dir fuzz --target-dir $(FUZZ_TARGET_DIR)) || exit 1; done

## The fuzz targets type-checked only (no instrumented codegen): a quick guard while editing.
fuzz-check:
	@$(FUZZ_REQUIRE)
	for c in $(FUZZ_CRATES); do (cd crates/$$c && $(CARGO) fuzz check -s none --fuzz-dir fuzz --target-dir $(CURDIR)/target/fuzz-check) || exit 1; done

FUZZ_SECONDS ?= 120
fuzz: fuzz-build
	mkdir -p crates/$(CRATE)/fuzz/corpus/$(TARGET)
	cd crates/$(CRATE) && $(CARGO) fuzz run -s none --fuzz-dir fuzz --target-dir $(FUZZ_TARGET_DIR) \
		$(TARGET) fuzz/corpus/$(TARGET) \
		$$(for d in fuzz/seeds/$(TARGET) fuzz/regressions/$(TARGET); do test -d $$d && echo $$d; done) \
		-- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=1024

## `make test`'s fuzzing: every target for FUZZ_SMOKE_SECONDS (default 30) from its corpus,
## seeds and regressions, FUZZ_SMOKE_JOBS (default 2) at a time; one line per target with
## its executions, or the crash report and where the input was written. Logs: target/fuzz-smoke/.
FUZZ_SMOKE_SECONDS ?= 30
FUZZ_SMOKE_JOBS    ?= 2
fuzz-smoke: fuzz-build
	@mkdir -p target/fuzz-smoke
	@printf '%s\n' $(FUZZ_TARGETS) | xargs -P $(FUZZ_SMOKE_JOBS) -I{} bash -c '\
	    c=$${0%%:*}; t=$${0##*:}; log=$(CURDIR)/target/fuzz-smoke/$$t.log; cd crates/$$c; \
	    mkdir -p fuzz/corpus/$$t; \
	    dirs=$$(for d in fuzz/seeds/$$t fuzz/regressions/$$t; do test -d $$d && echo $$d; done); \
	    if $(CARGO) fuzz run -s none --fuzz-dir fuzz --target-dir $(FUZZ_TARGET_DIR) $$t fuzz/corpus/$$t $$dirs \
	         -- -max_total_time=$(FUZZ_SMOKE_SECONDS) -rss_limit_mb=1024 -timeout=30 -print_final_stats=1 \
	         >$$log 2>&1; then \
	        echo "fuzz-smoke: $$t: $$(sed -n "s/^stat::number_of_executed_units: *//p" $$log) executions in $(FUZZ_SMOKE_SECONDS) s, no crash"; \
	    else \
	        tail -n 60 $$log; \
	        echo "fuzz-smoke: $$t FAILED (log $$log; the input is under crates/$$c/fuzz/artifacts/$$t/)"; exit 1; \
	    fi' {}

## Record bytes captured from a real broker into fixtures/batches (see fixtures/README.md).
fixtures: kafka release bench-build
	target/release/kbatch-testkit fixtures --out fixtures/batches \
		--librdkafka-producer $(BENCH_BIN)/rdkafka_produce

## A fully static x86-64 Linux `kbatch` (glibc, crt-static; resolves names without NSS).
## getrandom 0.3/0.4 (ahash in the arrow crates, rand in object_store) find glibc's getrandom
## with dlsym, which a static binary cannot, and fall back to /dev/urandom, which an empty
## root lacks: the cfg makes them call the getrandom syscall directly.
STATIC_TARGET := x86_64-unknown-linux-gnu
STATIC_CARGO_BIN := target/$(STATIC_TARGET)/release/kbatch
STATIC_BIN    := target/static/kbatch
## The release artifact, target/static/kbatch, is cargo's build stripped; its debug info goes
## to kbatch.debug next to it (named by .gnu_debuglink, so gdb and perf find it there). Cargo's
## own output stays whole, so a second `make static` strips a fresh copy, never a stripped one.
STATIC_OUT    := target/static
static:
	RUSTFLAGS='-C target-feature=+crt-static --cfg getrandom_backend="linux_getrandom"' $(CARGO) build --release -p kbatch-cli --target $(STATIC_TARGET)
	mkdir -p $(STATIC_OUT)
	objcopy --only-keep-debug $(STATIC_CARGO_BIN) $(STATIC_OUT)/kbatch.debug
	cd $(STATIC_OUT) && objcopy --strip-all --add-gnu-debuglink=kbatch.debug $(CURDIR)/$(STATIC_CARGO_BIN) kbatch
	@file $(STATIC_BIN)
	@echo "static binary: $$(stat -c %s $(STATIC_BIN)) bytes stripped ($$(stat -c %s $(STATIC_CARGO_BIN)) unstripped); debug info in $(STATIC_OUT)/kbatch.debug"

## The static binary inside an empty root (chroot) against a real broker.
test-static: kafka venv test-bin
	tests/static/run.sh $(STATIC_BIN) $(TEST_BIN)/kbatch-testkit

## Benchmarks (own cargo workspace under benches/, so librdkafka is built only here).
BENCH_BIN := benches/target/release
bench-build: release bench-franz-build
	@# The rdkafka reader is built with TLS (its `ssl` feature links the system OpenSSL).
	@dpkg -s libssl-dev >/dev/null 2>&1 || { echo "libssl-dev (OpenSSL headers) is missing: run make setup"; exit 1; }
	cd benches && $(CARGO) build --release --bins

## The franz-go comparison reader: a Go module (benches/franz, versions pinned by its go.sum)
## built into benches/target/release/franz_trending. Benchmarks require Go 1.26 or later.
GO ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
bench-franz-build:
	@command -v $(GO) >/dev/null 2>&1 || { echo "Go 1.26 or later is required to build the franz-go comparison reader (benches/franz): install it and put it on PATH, or name it with GO=/path/to/go"; exit 1; }
	cd benches/franz && $(GO) build -o ../target/release/franz_trending .

## Micro-benchmarks on fixtures, no broker (criterion; one core).
bench:
	cd benches && $(CARGO) bench --bench decode

## kbatch vs rust-rdkafka end to end on one real broker; writes benches/results/<date>-<host>.md.
bench-e2e: kafka bench-build
	$(BENCH_BIN)/bench_e2e $(BENCH_ARGS)

## The same on the realistic event mixes (2 M records per codec and mix); writes
## benches/results/<date>-<host>-<mix>.md per mix.
MIXES ?= flat nested serializers
bench-e2e-realistic: kafka bench-build
	for m in $(MIXES); do $(BENCH_BIN)/bench_e2e --mix $$m $(BENCH_ARGS) || exit 1; done

## The Python comparison on 2 M realistic events (lz4, 8 partitions, 5 rounds): kbatch.read()
## into a pyarrow.Table vs confluent-kafka (consume + pyarrow per batch), `kbatch export --format
## parquet` with every codec on one core vs `kbatch count`, Parquet + snappy export vs Spark's
## Kafka source writing Parquet on local[2], and read_batches' peak RSS over 20 M vs 2 M events;
## writes benches/results/<date>-<host>-arrow.md and <date>-<host>-export.md.
BENCH_PY_MARKER := $(VENV)/.bench-$(shell cksum < benches/python/requirements.txt | cut -d' ' -f1)
venv-bench: $(BENCH_PY_MARKER)
$(BENCH_PY_MARKER): $(VENV_MARKER) benches/python/requirements.txt
	$(VENV)/bin/pip install -q -r benches/python/requirements.txt
	touch $@
bench-arrow: kafka bench-build python venv-bench venv-spark spark-kafka-jars
	$(BENCH_BIN)/bench_arrow $(BENCH_ARGS)

## `kbatch top`'s floors (issue 27): trending, top, a query with nested groups, a filter and a
## distinct count, and a timestamp filter, each against DuckDB's SQL over kbatch.read() in one
## Python process, on the nested mix; writes benches/results/<date>-<host>-top.md.
## It needs neither Go nor librdkafka's readers: only its own binary of the benches workspace.
## BENCH_ARGS="--events 2000000 --spark" adds Spark's Kafka source + SQL on local[2] (run
## `make venv-spark spark-kafka-jars` first); "--transcript" writes the five-question transcript.
bench-top: kafka release python venv
	cd benches && $(CARGO) build --release --bin bench_top
	$(BENCH_BIN)/bench_top $(BENCH_ARGS)

## Issue 26's speed floors: kbatch.read(value_format=...) against confluent-kafka's
## DeserializingConsumer + its deserializer building the same pyarrow.Table (compared value for
## value), and arrow-avro alone on the same framed bytes; writes benches/results/<date>-registry.md.
BENCH_REGISTRY_ARGS ?= --events 1000000 --rounds 3
bench-registry: kafka registry release python venv
	$(CARGO) build --release --workspace --example avro_alone
	$(VENV)/bin/python benches/python/bench_registry.py --testkit target/release/kbatch-testkit \
	    --avro-alone target/release/examples/avro_alone $(BENCH_REGISTRY_ARGS) \
	    --out benches/results/$$(date +%F)-vm-registry.md

## Issue 26's CPU floor: `kbatch trending` on Avro values (confluent-kafka's AvroSerializer)
## against the same events as JSON, one core, 5 rounds; writes benches/results/<date>-vm-trending-avro.md.
bench-trending-avro: kafka registry release python venv
	KBATCH_BIN=target/release/kbatch KBATCH_TESTKIT=target/release/kbatch-testkit \
	    $(VENV)/bin/python benches/python/bench_trending_avro.py --events 1000000 --rounds 5 \
	    --out benches/results/$$(date +%F)-vm-trending-avro.md

## A few thousand records through every benchmark, so they cannot rot (part of `make test`).
bench-smoke: kafka bench-build python venv-bench venv-spark spark-kafka-jars
	$(BENCH_BIN)/bench_e2e --smoke
	$(BENCH_BIN)/bench_e2e --smoke --mix serializers
	$(BENCH_BIN)/bench_arrow --smoke
	$(BENCH_BIN)/bench_top --smoke
	cd benches/franz && $(GO) vet ./... && $(GO) test ./...
	cd benches && $(CARGO) bench --bench decode -- --test

## The extractor's oracle tests on aarch64 under qemu: the portable form, as Graviton-class
## hosts run it. Not in `make test` (slow under emulation). Installs the Rust target, the cross
## linker and qemu-user (Debian) when they are missing.
AARCH64 := aarch64-unknown-linux-gnu
AARCH64_TESTS ?= forms_under_test example_table oracle structural layout
test-aarch64:
	rustup target list --installed | grep -qx $(AARCH64) || rustup target add $(AARCH64)
	command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null || \
		(apt-get update && apt-get install -y gcc-aarch64-linux-gnu qemu-user)
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64 -L /usr/aarch64-linux-gnu" \
	CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
	AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar \
		$(CARGO) test --release -p kbatch-trending --target $(AARCH64) --lib -- $(AARCH64_TESTS)

## The main job end to end (README's first command).
DEMO_DIR := $(CACHE)/demo-broker
demo: kafka release
	@set -eu; bin=target/release; \
	$$bin/kbatch-testkit stop --dir $(DEMO_DIR) >/dev/null 2>&1 || true; \
	trap '$$bin/kbatch-testkit stop --dir $(DEMO_DIR) >/dev/null 2>&1 || true' EXIT; \
	boot=$$($$bin/kbatch-testkit start --dir $(DEMO_DIR)); \
	echo "broker: $$boot (Kafka $(KAFKA_VERSION), KRaft)"; \
	$$bin/kbatch-testkit create-topic --bootstrap $$boot --topic web_stream --partitions 5; \
	$$bin/kbatch-testkit produce-trending --bootstrap $$boot --topic web_stream --partitions 5 \
	    --events 200000 --seed 2018 --invalid 12; \
	$$bin/kbatch trending --bootstrap $$boot --topic web_stream --top 3

clean-cache:
	rm -rf $(CACHE)
