// Package config reads the functions' settings from their environment, as the SAM
// template sets it, and builds the AWS clients they use.
package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/segport/segport/internal/decode"
	"github.com/segport/segport/internal/dynamo"
	"github.com/segport/segport/pkg/endpoint"
)

// Config is every setting of the three functions.
type Config struct {
	Bucket        string
	ParseQueueURL string
	WriteQueueURL string
	// ParseDLQURL and WriteDLQURL are the queues' dead-letter queues, which
	// the sweeper reads.
	ParseDLQURL string
	WriteDLQURL string
	Tables      dynamo.Tables
	// StallAfter is how long a job may make no progress before the sweeper
	// sends its work again; MaxTries how often it does before it settles what
	// is missing as failed.
	StallAfter time.Duration
	MaxTries   int
	PieceSize  int64
	Shards     int
	MaxReceive int // the queues' maxReceiveCount
	// WriteConcurrency bounds the conditional puts one writer invocation
	// keeps in flight.
	WriteConcurrency int
	Limits           endpoint.Limits
	// Inflate caps the decompression of gzip exports (MaxInflateRatio,
	// MaxInflateBytes).
	Inflate decode.Inflate
	// SourceAccounts are the accounts whose roles imports may assume
	// (SEGPORT_SOURCE_ACCOUNTS, comma-separated; empty: none).
	SourceAccounts []string
	// S3PathStyle addresses S3 as endpoint/bucket/key rather than
	// bucket.endpoint/key: for a local S3 emulator named by host name
	// (an IP-address endpoint is path-style anyway).
	S3PathStyle bool
}

// S3PathStyleVar switches path-style S3 addressing on ("true"). The template
// declares it empty: it is for running the functions against local emulators
// (sam local invoke --env-vars).
const S3PathStyleVar = "SEGPORT_S3_PATH_STYLE"

// LocalOnly lists the variables FromEnv reads that a deployed function does
// not need: the template checks expect every other SEGPORT_* variable the
// functions read to be set from the template's resources and parameters.
var LocalOnly = []string{S3PathStyleVar}

// FromEnv reads the SEGPORT_* variables through getenv (os.Getenv in a function).
// A missing or malformed variable is an error naming it.
func FromEnv(getenv func(string) string) (*Config, error) {
	var missing []string
	str := func(name string) string {
		v := getenv(name)
		if v == "" {
			missing = append(missing, name)
		}
		return v
	}
	var bad []string
	num := func(name string, def int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			bad = append(bad, name+"="+v)
			return def
		}
		return n
	}
	lim := endpoint.DefaultLimits()
	c := &Config{
		Bucket:        str("SEGPORT_BUCKET"),
		ParseQueueURL: str("SEGPORT_PARSE_QUEUE_URL"),
		WriteQueueURL: str("SEGPORT_WRITE_QUEUE_URL"),
		ParseDLQURL:   str("SEGPORT_PARSE_DLQ_URL"),
		WriteDLQURL:   str("SEGPORT_WRITE_DLQ_URL"),
		StallAfter:    time.Duration(num("SEGPORT_STALL_SECONDS", 1800)) * time.Second,
		MaxTries:      num("SEGPORT_MAX_TRIES", 3),
		Tables: dynamo.Tables{
			Endpoints: str("SEGPORT_ENDPOINTS_TABLE"),
			Users:     str("SEGPORT_USERS_TABLE"),
			Segments:  str("SEGPORT_SEGMENTS_TABLE"),
			Members:   str("SEGPORT_MEMBERS_TABLE"),
			Jobs:      str("SEGPORT_JOBS_TABLE"),
			Registry:  str("SEGPORT_REGISTRY_TABLE"),
		},
		PieceSize:        int64(num("SEGPORT_PIECE_SIZE", 64<<20)),
		Shards:           num("SEGPORT_MEMBERSHIP_SHARDS", 16),
		MaxReceive:       num("SEGPORT_MAX_RECEIVE_COUNT", 5),
		WriteConcurrency: num("SEGPORT_WRITE_CONCURRENCY", 8),
		Inflate: decode.Inflate{
			Ratio: num("SEGPORT_MAX_INFLATE_RATIO", decode.DefaultInflate.Ratio),
			Bytes: int64(num("SEGPORT_MAX_INFLATE_GIB", int(decode.DefaultInflate.Bytes>>30))) << 30,
		},
		Limits: endpoint.Limits{
			AttributesPerEndpoint: num("SEGPORT_MAX_ATTRIBUTES_PER_ENDPOINT", lim.AttributesPerEndpoint),
			CustomAttributeNames:  num("SEGPORT_MAX_CUSTOM_ATTRIBUTE_NAMES", lim.CustomAttributeNames),
			NameLength:            num("SEGPORT_MAX_ATTRIBUTE_NAME_LENGTH", lim.NameLength),
			ValueLength:           num("SEGPORT_MAX_ATTRIBUTE_VALUE_LENGTH", lim.ValueLength),
			ValuesPerAttribute:    num("SEGPORT_MAX_VALUES_PER_ATTRIBUTE", lim.ValuesPerAttribute),
			EndpointBytes:         num("SEGPORT_MAX_ENDPOINT_BYTES", lim.EndpointBytes),
		},
	}
	if form, err := endpoint.ParseCountryForm(getenv("SEGPORT_COUNTRY_CODES")); err != nil {
		bad = append(bad, "SEGPORT_COUNTRY_CODES="+getenv("SEGPORT_COUNTRY_CODES"))
	} else {
		c.Limits.Country = form
	}
	for _, a := range strings.Split(getenv("SEGPORT_SOURCE_ACCOUNTS"), ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		if len(a) != 12 || strings.Trim(a, "0123456789") != "" {
			bad = append(bad, "SEGPORT_SOURCE_ACCOUNTS="+getenv("SEGPORT_SOURCE_ACCOUNTS")+" (want 12-digit account ids, comma-separated)")
			break
		}
		c.SourceAccounts = append(c.SourceAccounts, a)
	}
	switch v := getenv(S3PathStyleVar); v {
	case "", "false", "0":
	case "true", "1":
		c.S3PathStyle = true
	default:
		bad = append(bad, S3PathStyleVar+"="+v)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("configuration: missing environment variables %v", missing)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("configuration: malformed values: %v", bad)
	}
	return c, nil
}
