// Package arena makes many small strings out of one block of memory, so that a
// decoder can give each row its strings at the cost of an allocation per block
// instead of one per string.
//
// A string made here shares its block with others, and the block lives as long
// as any of them does: fine for the rows of a stream, which are dropped a batch
// at a time, but a caller that keeps one small string for long may want a copy
// (strings.Clone).
package arena

import "strings"

const (
	blockSize = 32 << 10
	// maxShared is the longest string put in a block; longer ones get their own
	// memory, so that a block is never mostly wasted.
	maxShared = 2 << 10
)

// Strings hands out strings from its current block. Its zero value is ready to
// use; a nil *Strings allocates every string by itself.
//
// The block is a strings.Builder: what it has built is never written again, so
// any part of its String is a string for good, and it grows without zeroing
// its memory first.
type Strings struct {
	block strings.Builder
}

// String returns a string with the bytes of b.
func (a *Strings) String(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if a == nil || len(b) > maxShared {
		return string(b)
	}
	start := a.room(len(b))
	a.block.Write(b)
	return a.block.String()[start:]
}

// Concat returns a string with the bytes of b followed by those of c.
func (a *Strings) Concat(b, c []byte) string {
	n := len(b) + len(c)
	if a == nil || n == 0 || n > maxShared {
		return string(b) + string(c)
	}
	start := a.room(n)
	a.block.Write(b)
	a.block.Write(c)
	return a.block.String()[start:]
}

// room makes sure n more bytes fit in the block without it moving, and returns
// where they start.
func (a *Strings) room(n int) int {
	if a.block.Cap()-a.block.Len() < n {
		a.block.Reset() // the old block stays with the strings made from it
		a.block.Grow(blockSize)
	}
	return a.block.Len()
}
