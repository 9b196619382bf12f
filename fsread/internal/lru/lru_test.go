package lru

import "testing"

func TestCacheEvictsByCost(t *testing.T) {
	c := New[int, string](10)
	c.Put(1, "a", 4)
	c.Put(2, "b", 4)
	c.Get(1) // 1 is now the most recent
	c.Put(3, "c", 4)
	if _, ok := c.Get(2); ok {
		t.Error("the least recently used entry survived past the cost bound")
	}
	for _, k := range []int{1, 3} {
		if _, ok := c.Get(k); !ok {
			t.Errorf("entry %d evicted", k)
		}
	}
	c.Put(4, "huge", 11)
	if _, ok := c.Get(4); ok {
		t.Error("an entry costlier than the whole bound was kept")
	}
	if _, ok := c.Get(1); !ok {
		t.Error("refusing an oversized entry evicted others")
	}
}
