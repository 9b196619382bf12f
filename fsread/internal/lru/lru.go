// Package lru is the bounded cache the filesystem readers share.
package lru

import (
	"container/list"
	"sync"
)

// Cache is a mutex-protected cache bounded by a total cost (entries for
// inodes, directory entries for listings), so a scan of a huge image keeps
// constant memory.
type Cache[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	cost  int
	ll    *list.List
	items map[K]*list.Element
}

type lruEntry[K comparable, V any] struct {
	k    K
	v    V
	cost int
}

func New[K comparable, V any](max int) *Cache[K, V] {
	return &Cache[K, V]{max: max, ll: list.New(), items: map[K]*list.Element{}}
}

func (c *Cache[K, V]) Get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*lruEntry[K, V]).v, true
	}
	var zero V
	return zero, false
}

// Put stores v unless its cost alone exceeds the bound.
func (c *Cache[K, V]) Put(k K, v V, cost int) {
	if cost < 1 {
		cost = 1
	}
	if cost > c.max {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[k]; ok {
		old := e.Value.(*lruEntry[K, V])
		c.cost += cost - old.cost
		old.v, old.cost = v, cost
		c.ll.MoveToFront(e)
	} else {
		c.items[k] = c.ll.PushFront(&lruEntry[K, V]{k: k, v: v, cost: cost})
		c.cost += cost
	}
	for c.cost > c.max {
		e := c.ll.Back()
		old := e.Value.(*lruEntry[K, V])
		c.ll.Remove(e)
		delete(c.items, old.k)
		c.cost -= old.cost
	}
}
