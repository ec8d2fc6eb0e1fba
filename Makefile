# segport - build, test and benchmark.
GO        ?= go
GOFLAGS   ?=
LAMBDA_GOFLAGS = -tags lambda.norpc -trimpath -ldflags='-s -w'
FUNCTIONS = trigger parser writer

.PHONY: all build test bench demo cli lambdas clean

all: build

## build: the CLI into bin/segport and every Lambda into bin/<name>/bootstrap (linux/arm64)
build: cli lambdas

cli:
	$(GO) build -o bin/segport ./cmd/segport

lambdas:
	@for f in $(FUNCTIONS); do \
		echo "build $$f"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_GOFLAGS) -o bin/$$f/bootstrap ./functions/$$f || exit 1; \
	done

# SAM's makefile builder calls build-<LogicalId> with ARTIFACTS_DIR set.
build-TriggerFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_GOFLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/trigger
build-ParserFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_GOFLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/parser
build-WriterFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(LAMBDA_GOFLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/writer

## test: every test, including the local-stack integration tests (installs the pinned npm emulators on first use)
test:
	$(GO) mod download
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 15m ./...

## bench: decoder and pipeline benchmarks; writes docs/performance.md
bench:
	$(GO) run ./internal/benchreport -out docs/performance.md

## demo: import the spec's two example files on the embedded local stack and print the segment
demo: cli
	./bin/segport import --data .segport/demo --segment spec-example examples/spec-example.csv
	./bin/segport import --data .segport/demo --segment spec-example examples/spec-example.json
	./bin/segport segments get --data .segport/demo spec-example
	./bin/segport segments members --data .segport/demo spec-example

clean:
	rm -rf bin .segport
