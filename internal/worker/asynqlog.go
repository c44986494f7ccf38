package worker

import (
	"github.com/hibiken/asynq"

	"github.com/adsync/adsync/internal/logging"
)

// outageQuietLogger is asynq's logger, except that while Redis is
// unreachable asynq's warnings and errors (each of its loops reports every
// failed poll: dozens of lines a second through a failover) are logged at
// debug level: the failover watch says in a few lines what happened.
type outageQuietLogger struct {
	logging.Asynq
	health *redisHealth
}

var _ asynq.Logger = outageQuietLogger{}

// Warn logs at warn level, or at debug level during an outage.
func (l outageQuietLogger) Warn(args ...any) {
	if l.health.lost() {
		l.Debug(args...)
		return
	}
	l.Asynq.Warn(args...)
}

// Error logs at error level, or at debug level during an outage.
func (l outageQuietLogger) Error(args ...any) {
	if l.health.lost() {
		l.Debug(args...)
		return
	}
	l.Asynq.Error(args...)
}
