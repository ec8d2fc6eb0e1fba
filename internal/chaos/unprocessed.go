package chaos

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
)

var errBadBatch = errors.New("chaos proxy: malformed batch request")

// heldBack is the part of a batch call the proxy kept from dynalite, to be
// returned as unprocessed.
type heldBack struct {
	field string                       // UnprocessedItems or UnprocessedKeys
	lists map[string][]json.RawMessage // items or keys per table
	// reqs are a BatchGetItem's tables with their read settings
	// (ConsistentRead, ProjectionExpression), so that a retry reads as the
	// call did; nil for BatchWriteItem.
	reqs map[string]map[string]json.RawMessage
	n    int
}

// holdBack removes some of the items of a BatchWriteItem, or keys of a
// BatchGetItem, from body. At least one stays, since DynamoDB answers a call
// it could do nothing of with a throttling error instead. Other calls, and
// batches of one, pass unchanged.
func (p *Proxy) holdBack(op string, body []byte) ([]byte, *heldBack, error) {
	if op != "BatchWriteItem" && op != "BatchGetItem" {
		return body, nil, nil
	}
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errBadBatch, err)
	}
	var (
		kept map[string]json.RawMessage
		held *heldBack
		err  error
	)
	if op == "BatchWriteItem" {
		kept, held, err = p.holdWrites(req["RequestItems"])
	} else {
		kept, held, err = p.holdKeys(req["RequestItems"])
	}
	if err != nil || held == nil {
		return body, nil, err
	}
	if req["RequestItems"], err = json.Marshal(kept); err != nil {
		return nil, nil, err
	}
	out, err := json.Marshal(req)
	return out, held, err
}

// pick chooses which of n entries to hold back: from 1 to n-1 of them.
func (p *Proxy) pick(n int) []bool {
	hold := make([]bool, n)
	k := 1 + p.c.rng.intN(n-1)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	p.c.rng.shuffle(n, func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	for _, i := range idx[:k] {
		hold[i] = true
	}
	return hold
}

// split divides each table's list by the flags of pick, in table order.
func (p *Proxy) split(lists map[string][]json.RawMessage) (kept, held map[string][]json.RawMessage, n int) {
	total := 0
	for _, l := range lists {
		total += len(l)
	}
	if total < 2 {
		return nil, nil, 0
	}
	hold := p.pick(total)
	kept, held = map[string][]json.RawMessage{}, map[string][]json.RawMessage{}
	i := 0
	for _, table := range slices.Sorted(maps.Keys(lists)) {
		for _, e := range lists[table] {
			if hold[i] {
				held[table] = append(held[table], e)
				n++
			} else {
				kept[table] = append(kept[table], e)
			}
			i++
		}
	}
	return kept, held, n
}

func (p *Proxy) holdWrites(raw json.RawMessage) (map[string]json.RawMessage, *heldBack, error) {
	var lists map[string][]json.RawMessage
	if err := json.Unmarshal(raw, &lists); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errBadBatch, err)
	}
	kept, held, n := p.split(lists)
	if n == 0 {
		return nil, nil, nil
	}
	k := map[string]json.RawMessage{}
	for t, l := range kept {
		k[t], _ = json.Marshal(l)
	}
	return k, &heldBack{field: "UnprocessedItems", lists: held, n: n}, nil
}

func (p *Proxy) holdKeys(raw json.RawMessage) (map[string]json.RawMessage, *heldBack, error) {
	var reqs map[string]map[string]json.RawMessage
	if err := json.Unmarshal(raw, &reqs); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", errBadBatch, err)
	}
	lists := map[string][]json.RawMessage{}
	for t, r := range reqs {
		var keys []json.RawMessage
		if err := json.Unmarshal(r["Keys"], &keys); err != nil {
			return nil, nil, fmt.Errorf("%w: %v", errBadBatch, err)
		}
		lists[t] = keys
	}
	kept, held, n := p.split(lists)
	if n == 0 {
		return nil, nil, nil
	}
	k := map[string]json.RawMessage{}
	for t, l := range kept {
		k[t] = withKeys(reqs[t], l)
	}
	return k, &heldBack{field: "UnprocessedKeys", lists: held, reqs: reqs, n: n}, nil
}

// withKeys is a BatchGetItem table request r reading keys.
func withKeys(r map[string]json.RawMessage, keys []json.RawMessage) json.RawMessage {
	r = maps.Clone(r)
	r["Keys"], _ = json.Marshal(keys)
	b, _ := json.Marshal(r)
	return b
}

// merge adds the held-back part to what dynalite left unprocessed itself.
func (h *heldBack) merge(body []byte) ([]byte, error) {
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(body, &resp); err != nil {
		return nil, fmt.Errorf("chaos proxy: decode batch response: %w", err)
	}
	have := map[string]json.RawMessage{}
	if raw, ok := resp[h.field]; ok {
		if err := json.Unmarshal(raw, &have); err != nil {
			return nil, fmt.Errorf("chaos proxy: decode %s: %w", h.field, err)
		}
	}
	for t, l := range h.lists {
		var prev []json.RawMessage
		if h.reqs == nil {
			json.Unmarshal(have[t], &prev)
			have[t], _ = json.Marshal(append(prev, l...))
			continue
		}
		r := h.reqs[t]
		var left map[string]json.RawMessage
		if raw, ok := have[t]; ok && json.Unmarshal(raw, &left) == nil {
			r = left
			json.Unmarshal(r["Keys"], &prev)
		}
		have[t] = withKeys(r, append(prev, l...))
	}
	var err error
	if resp[h.field], err = json.Marshal(have); err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

func (h *heldBack) count(c *Chaos) {
	if h.reqs != nil {
		c.count.unprocessedKeys.Add(int64(h.n))
	} else {
		c.count.unprocessedItems.Add(int64(h.n))
	}
}
