package ratelimit

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// The Lua scripts live in their own files so they read as Lua; each is run
// with EVALSHA, falling back to EVAL once per Redis server. The scripts that
// book or move stamps start with fence.lua, so that the first decision on a
// newly promoted primary fences the client's budget, and those that book
// share slot.lua's rule. Every key of a script is one client's (clientKey),
// in one Redis Cluster hash slot. The time is always an argument, read from
// Options.Clock, so that tests can assert exact slots.
var (
	//go:embed fence.lua
	fenceSrc string

	//go:embed slot.lua
	slotSrc string

	//go:embed reserve.lua
	reserveSrc    string
	reserveScript = redis.NewScript(fenceSrc + slotSrc + reserveSrc)

	//go:embed book.lua
	bookSrc    string
	bookScript = redis.NewScript(fenceSrc + slotSrc + bookSrc)

	//go:embed hedge.lua
	hedgeSrc    string
	hedgeScript = redis.NewScript(fenceSrc + slotSrc + hedgeSrc)

	//go:embed block.lua
	blockSrc    string
	blockScript = redis.NewScript(blockSrc)

	//go:embed blocked.lua
	blockedSrc    string
	blockedScript = redis.NewScript(blockedSrc)

	//go:embed restamp.lua
	restampSrc    string
	restampScript = redis.NewScript(fenceSrc + slotSrc + restampSrc)
)
