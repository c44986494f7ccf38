package ratelimit

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// The Lua scripts live in their own files so they read as Lua; each is run
// with EVALSHA, falling back to EVAL once per Redis server. The scripts that
// book or move stamps start with fence.lua, so that the first decision on a
// newly promoted primary fences the client's budget. Every key of a script
// is one client's (clientKey), in one Redis Cluster hash slot.
var (
	//go:embed fence.lua
	fenceSrc string

	//go:embed reserve.lua
	reserveSrc    string
	reserveScript = redis.NewScript(fenceSrc + reserveSrc)

	//go:embed block.lua
	blockSrc    string
	blockScript = redis.NewScript(blockSrc)

	//go:embed blocked.lua
	blockedSrc    string
	blockedScript = redis.NewScript(blockedSrc)

	//go:embed restamp.lua
	restampSrc    string
	restampScript = redis.NewScript(fenceSrc + restampSrc)

	//go:embed pace.lua
	paceSrc    string
	paceScript = redis.NewScript(fenceSrc + paceSrc)
)
