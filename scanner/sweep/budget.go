package sweep

import "sync"

// budget is the bytes of file buffers the workers may hold at once
// (Options.MaxMemory). A worker takes a buffer's size before allocating it
// and gives it back when it needs a bigger one or stops, so big files lower
// the number of workers reading instead of adding up: the sweep degrades to
// fewer workers, never grows past the budget.
type budget struct {
	mu    sync.Mutex
	cond  *sync.Cond
	total int64
	free  int64
}

func newBudget(total int64) *budget {
	b := &budget{total: total, free: total}
	b.cond = sync.NewCond(&b.mu)
	return b
}

// take blocks until n bytes are free; n must be at most total.
func (b *budget) take(n int64) {
	b.mu.Lock()
	for b.free < n {
		b.cond.Wait()
	}
	b.free -= n
	b.mu.Unlock()
}

func (b *budget) give(n int64) {
	b.mu.Lock()
	b.free += n
	b.mu.Unlock()
	b.cond.Broadcast()
}
