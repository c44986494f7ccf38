package ratelimit

import (
	_ "embed"

	"github.com/redis/go-redis/v9"
)

// The Lua scripts live in their own files so they read as Lua; each is run
// with EVALSHA, falling back to EVAL once per Redis server.
var (
	//go:embed reserve.lua
	reserveSrc    string
	reserveScript = redis.NewScript(reserveSrc)

	//go:embed block.lua
	blockSrc    string
	blockScript = redis.NewScript(blockSrc)

	//go:embed blocked.lua
	blockedSrc    string
	blockedScript = redis.NewScript(blockedSrc)

	//go:embed restamp.lua
	restampSrc    string
	restampScript = redis.NewScript(restampSrc)

	//go:embed pace.lua
	paceSrc    string
	paceScript = redis.NewScript(paceSrc)
)
