# snapscan — see README.md. `make demo` scans a bundled image; `make test` runs the tests.
GO      ?= go
BIN     := bin/snapscan
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
IMAGES  := testdata/images
OUT     := $(IMAGES)/out
FUZZTIME ?= 20s
# make fuzz runs two targets at a time, one core each (CI has two cores).
FUZZJOBS ?= 2

.PHONY: all deps build test test-race bench fuzz fuzz-long lint testdata demo images clean

all: build

deps:
	@scripts/deps.sh test

build:
	@scripts/deps.sh build
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/snapscan

# The default test run: every package, the race detector on the packages
# that read concurrently. Fuzzing and benchmarks are separate targets.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 30m ./...
	$(GO) test -count=1 -race -timeout 30m ./fsread/... ./scanner/...

bench: deps build
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./fsread/... ./scanner/...
	@[ ! -x scripts/bench.sh ] || scripts/bench.sh

# Each fuzz target for FUZZTIME, printing its exec/s on one core and a
# table of them (CI: FUZZTIME=5s); fails on a crasher.
fuzz: deps
	@FUZZ_JOBS=$(FUZZJOBS) scripts/fuzz.sh $(FUZZTIME)

# A long session: every target in turn on all cores, crashers minimised,
# e.g. make fuzz-long FUZZTIME=30m.
fuzz-long: FUZZTIME = 10m
fuzz-long: deps
	@FUZZ_JOBS=1 FUZZ_PARALLEL=$$(nproc) FUZZ_MINIMIZE=30s scripts/fuzz.sh $(FUZZTIME)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); [ -z "$$out" ] || { echo "gofmt needed: $$out"; exit 1; }
	$(GO) vet ./...

# Rebuilds the committed test images with real tools (needs root).
testdata:
	bash $(IMAGES)/make.sh

# Decompressed copies of the committed images, for running the CLI on them.
images: $(patsubst $(IMAGES)/%.gz,$(OUT)/%,$(wildcard $(IMAGES)/*.gz))
$(OUT)/%: $(IMAGES)/%.gz
	@mkdir -p $(OUT)
	@gzip -dc $< > $@.tmp && chmod 0444 $@.tmp && mv -f $@.tmp $@

demo: build images
	$(BIN) inspect $(OUT)/linux-infected.img
	$(BIN) scan $(OUT)/linux-infected.img

clean:
	rm -rf bin $(OUT)
