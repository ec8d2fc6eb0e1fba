// Package segport carries the project's SAM template into the binaries that need
// it: the local stack provisions itself from the same template AWS deploys.
package segport

import _ "embed"

// Template is template.yaml.
//
//go:embed template.yaml
var Template []byte
