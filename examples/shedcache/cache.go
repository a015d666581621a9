package main

import (
	"container/list"
	"sync"

	watchdog "github.com/raulk/go-watchdog"
)

// moderateKeep is the share of its bytes the cache keeps when the pressure
// rises to moderate: the least recently used half goes.
const moderateKeep = 0.5

// Cache is a least-recently-used cache of byte slices that counts the bytes
// it holds and gives them back when the watchdog reports memory pressure
// (see Watch): it drops its least recently used half when the level rises
// to moderate, and everything when it reaches critical.
//
// A byte counts as len(key) + len(value); the map and list overhead per
// entry is left out. The cache has no size limit of its own: the process's
// memory limit, through the watchdog, is its limit. A Cache is safe for
// concurrent use.
type Cache struct {
	mu    sync.Mutex
	order *list.List               // of *entry; front: most recently used
	items map[string]*list.Element // key -> element of order
	bytes int
}

type entry struct {
	key   string
	value []byte
}

// Shed reports what one shedding dropped and what it kept.
type Shed struct {
	// Level is the pressure level that made the cache shed.
	Level                  watchdog.Pressure
	Entries, Bytes         int // dropped
	KeptEntries, KeptBytes int // left in the cache
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{order: list.New(), items: make(map[string]*list.Element)}
}

// Get returns the value cached under key and marks it recently used.
func (c *Cache) Get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*entry).value, true
}

// Put caches value under key, replacing any value there. The cache keeps
// value itself, not a copy: the caller must not change it afterwards.
func (c *Cache) Put(key string, value []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		e := el.Value.(*entry)
		c.bytes += len(value) - len(e.value)
		e.value = value
		c.order.MoveToFront(el)
		return
	}
	c.items[key] = c.order.PushFront(&entry{key: key, value: value})
	c.bytes += len(key) + len(value)
}

// Len returns the number of entries.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// Bytes returns the bytes the entries hold.
func (c *Cache) Bytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// ShedTo drops least recently used entries until the cache holds at most
// keep (a fraction from 0 to 1) of the bytes it holds now.
func (c *Cache) ShedTo(keep float64) Shed {
	c.mu.Lock()
	defer c.mu.Unlock()
	target := int(float64(c.bytes) * keep)
	var s Shed
	for c.bytes > target {
		e := c.order.Remove(c.order.Back()).(*entry)
		delete(c.items, e.key)
		n := len(e.key) + len(e.value)
		c.bytes -= n
		s.Entries++
		s.Bytes += n
	}
	s.KeptEntries, s.KeptBytes = c.order.Len(), c.bytes
	return s
}

// Clear drops every entry.
func (c *Cache) Clear() Shed {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Shed{Entries: c.order.Len(), Bytes: c.bytes}
	// New containers, not emptied ones: a map keeps its buckets after its
	// keys are deleted.
	c.order, c.items, c.bytes = list.New(), make(map[string]*list.Element), 0
	return s
}

// Watch sheds the cache as the pressure level reported by events rises:
// down to half of its bytes on reaching moderate, everything on reaching
// critical. A falling level drops nothing. It calls onShed, if not nil,
// after each shedding, and returns when events is closed (the cancel
// function of watchdog.Subscribe). Run it on a goroutine of its own:
//
//	events, cancel := watchdog.Subscribe(0)
//	defer cancel()
//	go cache.Watch(events, nil)
//
// Every event carries the level in force when it happened, so Watch acts on
// whichever event first shows a higher level: a pressure_changed event lost
// to a full channel is made up for by the next event of any kind.
//
// The memory an entry held is free once the next GC has run; the watchdog
// sees the lower live heap after that GC, and lowers the level then.
func (c *Cache) Watch(events <-chan watchdog.Event, onShed func(Shed)) {
	level := watchdog.PressureNone
	for ev := range events {
		if ev.Kind == watchdog.EventStopped {
			level = watchdog.PressureNone // a later watchdog starts afresh
			continue
		}
		rose := ev.Pressure > level
		level = ev.Pressure
		if !rose {
			continue
		}
		var s Shed
		switch level {
		case watchdog.PressureModerate:
			s = c.ShedTo(moderateKeep)
		case watchdog.PressureCritical:
			s = c.Clear()
		default:
			continue
		}
		s.Level = level
		if onShed != nil {
			onShed(s)
		}
	}
}
