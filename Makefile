# segport - build, test and benchmark.
GO        ?= go
GOFLAGS   ?=
LAMBDA_GOFLAGS = -tags lambda.norpc -trimpath -ldflags='-s -w'
# Lambda runs the functions on arm64; the sam-local-invoke tests build them for
# the host with `make build-<LogicalId> LAMBDA_ARCH=amd64`.
LAMBDA_ARCH = arm64
LAMBDA_BUILD = CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_ARCH) $(GO) build $(LAMBDA_GOFLAGS)
# Every AWS::Serverless::Function of template.yaml, by logical id.
FUNCTIONS = $(shell awk '/^  [A-Za-z0-9]+:$$/ {id = $$1} /Type: AWS::Serverless::Function$$/ {sub(":", "", id); print id}' template.yaml)

.PHONY: all build test bench demo cli lambdas clean

all: build

## build: the CLI into bin/segport and every Lambda into bin/<name>/bootstrap (linux/arm64; <name> is the logical id less "Function", lower case)
build: cli lambdas

cli:
	$(GO) build -o bin/segport ./cmd/segport

lambdas:
	@for f in $(FUNCTIONS); do \
		d=$$(echo $$f | sed 's/Function$$//' | tr A-Z a-z); \
		echo "build $$f into bin/$$d/bootstrap"; \
		$(MAKE) --no-print-directory -s build-$$f ARTIFACTS_DIR=bin/$$d || exit 1; \
	done

# SAM's makefile builder calls build-<LogicalId> with ARTIFACTS_DIR set.
build-TriggerFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/trigger
build-ParserFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/parser
build-WriterFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/writer
build-SweeperFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/sweeper
build-ApiFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/api

## test: every test, including the local-stack integration tests (installs the pinned npm emulators on first use)
# The timeout is per package: on an empty build cache the functions' tests
# compile every dependency twice more (arm64 for TestBuild, the Makefile's flags
# for TestSamLocalInvoke), which on a loaded two-core machine passes 15 minutes.
# The tests build with the flags the Lambda bootstraps are built with (no cgo,
# -trimpath), so that the bootstraps TestSamLocalInvoke builds for this machine
# reuse the packages the tests compiled: on an empty build cache that saves a
# whole compile of the AWS SDK.
TEST_ENV = CGO_ENABLED=0 GOFLAGS="$(GOFLAGS) -trimpath"
test:
	$(GO) mod download
	$(TEST_ENV) $(GO) vet ./...
	$(TEST_ENV) $(GO) test -count=1 -timeout 30m ./...

## bench: decoder, whole-process (segport validate against encoding/csv and encoding/json programs) and pipeline benchmarks; writes docs/performance.md
bench:
	$(GO) run ./internal/benchreport -out docs/performance.md

## soak: 100K generated rows through `segport import`, clean and with --chaos; prints the time, faults, retries and whether the dumps are equal
.PHONY: soak
soak: cli
	$(GO) run ./internal/soak -segport bin/segport -rows 100000 \
		-chaos duplicate=0.3,reorder=1,crash=0.05,throttle=0.1,unprocessed=0.2,race=0.2

## demo: import the spec's two example files on the embedded local stack and print the segment
demo: cli
	./bin/segport import --data .segport/demo --segment spec-example examples/spec-example.csv
	./bin/segport import --data .segport/demo --segment spec-example examples/spec-example.json
	./bin/segport segments get --data .segport/demo spec-example
	./bin/segport segments members --data .segport/demo spec-example

clean:
	rm -rf bin .segport
sim: ; $(GO) test -count=1 -timeout 0 -run 'TestSimSoak$$' ./internal/sim -sim.duration=$(or $(SIM_DURATION),10m) -v  ## sim: soak the deterministic simulator for SIM_DURATION (10m): schedules/second and any failing seed
