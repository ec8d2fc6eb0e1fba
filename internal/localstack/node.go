package localstack

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// The SQS and DynamoDB emulators are npm packages pinned by this lock; the
// launcher script starts either one on 127.0.0.1.
//
//go:embed node/package.json node/package-lock.json node/emulator.mjs
var nodeFiles embed.FS

const (
	minNodeMajor = 20
	// installedMarker, inside node_modules, holds the InstallHash that was
	// installed there.
	installedMarker = ".segport-lock"
)

// ErrNoNode means node or npm is missing or too old.
var ErrNoNode = errors.New("the local stack needs Node.js 20+ and npm on PATH")

// nodeFileNames are the embedded files written into an emulator install.
var nodeFileNames = []string{"package.json", "package-lock.json", "emulator.mjs"}

// InstallHash identifies an emulator install: the first 12 hex digits of the
// SHA-256 of the embedded files. The launcher script is part of it, so that
// checkouts with different launchers never share (and rewrite) one install.
func InstallHash() string {
	h := sha256.New()
	for _, name := range nodeFileNames {
		data, _ := nodeFiles.ReadFile("node/" + name)
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// SharedNodeDir is a per-machine emulator install under the user cache
// directory, one per InstallHash, so npm runs once per machine and version.
func SharedNodeDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("user cache dir: %w", err)
	}
	return filepath.Join(dir, "segport", "node-"+InstallHash()), nil
}

// ensureNode writes the embedded files into dir and runs npm ci there when
// node_modules is missing or was installed from another lock. A file lock
// serializes processes sharing dir.
func ensureNode(ctx context.Context, dir string) error {
	if err := checkNode(ctx); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("node dir: %w", err)
	}
	unlock, err := lockFile(filepath.Join(dir, ".install.lock"))
	if err != nil {
		return fmt.Errorf("lock node dir: %w", err)
	}
	defer unlock()
	for _, name := range nodeFileNames {
		data, _ := nodeFiles.ReadFile("node/" + name)
		if err := writeIfChanged(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	marker := filepath.Join(dir, "node_modules", installedMarker)
	if got, err := os.ReadFile(marker); err == nil && string(got) == InstallHash() {
		return nil
	}
	if err := npmCI(ctx, dir); err != nil {
		return err
	}
	if err := os.WriteFile(marker, []byte(InstallHash()), 0o644); err != nil {
		return fmt.Errorf("write install marker: %w", err)
	}
	return nil
}

func writeIfChanged(path string, data []byte, perm os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return os.Chmod(path, perm)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, perm); err != nil {
		return err
	}
	if err := os.Chmod(tmp, perm); err != nil { // WriteFile keeps an old file's mode
		return err
	}
	return os.Rename(tmp, path)
}

// PrivateDir makes dir, and its missing parents, readable by its owner only
// (0700), tightening it if it exists: a stack's data holds imported rows and
// its credentials, and other users of the machine must not read them.
func PrivateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

func npmCI(ctx context.Context, dir string) error {
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("npm ci in %s: %w\n%s", dir, err, tail(out, 2000))
	}
	return nil
}

// checkNode verifies node (major version 20 or later) and npm are on PATH.
func checkNode(ctx context.Context) error {
	if _, err := exec.LookPath("npm"); err != nil {
		return fmt.Errorf("%w: %w", ErrNoNode, err)
	}
	out, err := exec.CommandContext(ctx, "node", "--version").Output()
	if err != nil {
		return fmt.Errorf("%w: node --version: %w", ErrNoNode, err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, _, _ := strings.Cut(v, ".")
	if n, err := strconv.Atoi(major); err != nil || n < minNodeMajor {
		return fmt.Errorf("%w: found node %s", ErrNoNode, v)
	}
	return nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(bytes.TrimSpace(b))
}
