package tokenizer

import (
	"strings"
	"sync"
)

// pieceCache remembers the BPE result of pre-tokens that are not whole
// vocabulary tokens. Text repeats its words, so after warm-up nearly every
// pre-token is a map hit. It is sharded to keep concurrent encoders from
// contending on one lock, and each shard is simply emptied when full.
type pieceCache struct {
	shards [cacheShards]cacheShard
}

const (
	cacheShards       = 16
	cacheShardEntries = 4096
	cacheMaxPieceLen  = 256 // longer pre-tokens are rare and not worth keeping
)

type cacheShard struct {
	mu      sync.RWMutex
	entries map[string][]int32
}

func newPieceCache() *pieceCache {
	c := &pieceCache{}
	for i := range c.shards {
		c.shards[i].entries = make(map[string][]int32)
	}
	return c
}

func (c *pieceCache) shard(piece string) *cacheShard {
	// FNV-1a over at most the first 8 bytes and the length: cheap and spreads
	// pieces well enough for 16 shards.
	h := uint32(2166136261) ^ uint32(len(piece))
	for i := 0; i < len(piece) && i < 8; i++ {
		h = (h ^ uint32(piece[i])) * 16777619
	}
	return &c.shards[h%cacheShards]
}

func (c *pieceCache) get(piece string) ([]int32, bool) {
	s := c.shard(piece)
	s.mu.RLock()
	ids, ok := s.entries[piece]
	s.mu.RUnlock()
	return ids, ok
}

func (c *pieceCache) put(piece string, ids []int32) {
	if len(piece) > cacheMaxPieceLen {
		return
	}
	s := c.shard(piece)
	s.mu.Lock()
	if len(s.entries) >= cacheShardEntries {
		clear(s.entries)
	}
	// Clone the key: piece points into the caller's text, which the cache
	// must not keep alive.
	s.entries[strings.Clone(piece)] = ids
	s.mu.Unlock()
}
