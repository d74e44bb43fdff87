package tokenizer

import "sync"

// merge is one BPE merge rule: the pair (left, right) becomes id; lower rank
// merges first.
type merge struct {
	rank int32
	id   int32
}

// pairKey packs two token ids into one map key.
func pairKey(left, right int32) uint64 { return uint64(uint32(left))<<32 | uint64(uint32(right)) }

// bpeSymbol is one token of a word being merged; the symbols form a linked list
// over the word so that merging two neighbours is O(1).
type bpeSymbol struct {
	id         int32
	prev, next int32 // indices into the symbol slice, -1 at the ends
	alive      bool
}

// candidate is a possible merge of the symbol at pos with the one after it.
type candidate struct {
	rank        int32
	pos         int32
	left, right int32 // ids expected at pos and next(pos); stale if they changed
	mergedID    int32
}

// candidateHeap is a binary min-heap ordered by rank, then by position
// (leftmost first), as the reference BPE orders its merges. It is typed rather
// than built on container/heap so that pushes do not allocate.
type candidateHeap []candidate

func (h candidateHeap) less(i, j int) bool {
	if h[i].rank != h[j].rank {
		return h[i].rank < h[j].rank
	}
	return h[i].pos < h[j].pos
}

func (h candidateHeap) down(i int) {
	for {
		smallest, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && h.less(l, smallest) {
			smallest = l
		}
		if r < len(h) && h.less(r, smallest) {
			smallest = r
		}
		if smallest == i {
			return
		}
		h[i], h[smallest] = h[smallest], h[i]
		i = smallest
	}
}

func (h candidateHeap) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !h.less(i, parent) {
			return
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func (h candidateHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *candidateHeap) push(c candidate) {
	*h = append(*h, c)
	h.up(len(*h) - 1)
}

func (h *candidateHeap) pop() candidate {
	old := *h
	c := old[0]
	last := len(old) - 1
	old[0] = old[last]
	*h = old[:last]
	h.down(0)
	return c
}

// bpeScratch holds the reusable buffers of one BPE call.
type bpeScratch struct {
	symbols []bpeSymbol
	queue   candidateHeap
}

var bpeScratchPool = sync.Pool{New: func() any { return new(bpeScratch) }}

// bpe appends to ids the tokens of word (raw bytes, at least one) after
// applying the merges in rank order. It runs in O(n log n) for a word of n
// bytes, so a megabyte without spaces is no trap.
func (t *Tokenizer) bpe(word string, ids []int32) []int32 {
	s := bpeScratchPool.Get().(*bpeScratch)
	defer bpeScratchPool.Put(s)

	symbols := s.symbols[:0]
	for i := 0; i < len(word); i++ {
		symbols = append(symbols, bpeSymbol{id: t.byteID[word[i]], prev: int32(i) - 1, next: int32(i) + 1, alive: true})
	}
	symbols[len(symbols)-1].next = -1
	s.symbols = symbols

	s.queue = s.queue[:0]
	for i := 0; i+1 < len(symbols); i++ {
		t.pushCandidate(&s.queue, symbols, int32(i))
	}
	s.queue.init()

	for len(s.queue) > 0 {
		c := s.queue.pop()
		left := &symbols[c.pos]
		if !left.alive || left.id != c.left || left.next < 0 || symbols[left.next].id != c.right {
			continue // a neighbour was merged since this candidate was queued
		}
		right := &symbols[left.next]
		left.id = c.mergedID
		right.alive = false
		left.next = right.next
		if right.next >= 0 {
			symbols[right.next].prev = c.pos
		}
		if left.prev >= 0 {
			t.pushCandidateHeap(&s.queue, symbols, left.prev)
		}
		if left.next >= 0 {
			t.pushCandidateHeap(&s.queue, symbols, c.pos)
		}
	}
	for i := int32(0); i >= 0; i = symbols[i].next {
		ids = append(ids, symbols[i].id)
	}
	return ids
}

// pushCandidate appends the merge of symbol pos with its successor, if a rule exists.
func (t *Tokenizer) pushCandidate(q *candidateHeap, symbols []bpeSymbol, pos int32) {
	left, right := symbols[pos].id, symbols[symbols[pos].next].id
	if m, ok := t.merges[pairKey(left, right)]; ok {
		*q = append(*q, candidate{rank: m.rank, pos: pos, left: left, right: right, mergedID: m.id})
	}
}

// pushCandidateHeap is pushCandidate for a queue that is already a heap.
func (t *Tokenizer) pushCandidateHeap(q *candidateHeap, symbols []bpeSymbol, pos int32) {
	left, right := symbols[pos].id, symbols[symbols[pos].next].id
	if m, ok := t.merges[pairKey(left, right)]; ok {
		q.push(candidate{rank: m.rank, pos: pos, left: left, right: right, mergedID: m.id})
	}
}
