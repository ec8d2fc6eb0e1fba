package config

import (
	"strings"
	"testing"

	"github.com/segport/segport/pkg/endpoint"
)

// required sets every variable FromEnv requires.
func required(env map[string]string) {
	for _, name := range []string{"SEGPORT_BUCKET", "SEGPORT_PARSE_QUEUE_URL", "SEGPORT_WRITE_QUEUE_URL",
		"SEGPORT_ENDPOINTS_TABLE", "SEGPORT_USERS_TABLE", "SEGPORT_SEGMENTS_TABLE", "SEGPORT_MEMBERS_TABLE",
		"SEGPORT_JOBS_TABLE", "SEGPORT_REGISTRY_TABLE", "SEGPORT_PARSE_DLQ_URL", "SEGPORT_WRITE_DLQ_URL"} {
		env[name] = "x"
	}
}

func TestS3PathStyle(t *testing.T) {
	tests := []struct {
		value   string
		want    bool
		wantErr bool
	}{
		{"", false, false},
		{"false", false, false},
		{"true", true, false},
		{"1", true, false},
		{"yes", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			env := map[string]string{S3PathStyleVar: tt.value}
			required(env)
			c, err := FromEnv(func(k string) string { return env[k] })
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), S3PathStyleVar) {
					t.Fatalf("err = %v, want one naming %s", err, S3PathStyleVar)
				}
				return
			}
			if err != nil || c.S3PathStyle != tt.want {
				t.Fatalf("S3PathStyle = %v, %v; want %v", c.S3PathStyle, err, tt.want)
			}
		})
	}
}

func TestCountryCodes(t *testing.T) {
	tests := []struct {
		value   string
		want    endpoint.CountryForm
		wantErr bool
	}{
		{"", endpoint.CountryAlpha3, false},
		{"alpha-3", endpoint.CountryAlpha3, false},
		{"alpha-2", endpoint.CountryAlpha2, false},
		{"numeric", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			env := map[string]string{"SEGPORT_COUNTRY_CODES": tt.value}
			required(env)
			c, err := FromEnv(func(k string) string { return env[k] })
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "SEGPORT_COUNTRY_CODES=numeric") {
					t.Fatalf("err = %v, want one naming SEGPORT_COUNTRY_CODES", err)
				}
				return
			}
			if err != nil || c.Limits.Country != tt.want {
				t.Fatalf("Limits.Country = %v, %v; want %v", c.Limits.Country, err, tt.want)
			}
		})
	}
}
