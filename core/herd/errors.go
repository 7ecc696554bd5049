package herd

import (
	"errors"
	"strconv"
)

// errSpent is returned by Publish or Abandon on a ticket already ended.
var errSpent = errors.New("herd: the ticket was already published or abandoned")

// FailedError is what Ask returns to the callers that waited in this
// process for a computation whose owner gave it up (Ticket.Abandon): one
// failure reaches them all, instead of each computing again in turn.
type FailedError struct {
	// Key is the stored key whose computation failed.
	Key string
	// Cause is the error the ticket's owner passed to Abandon.
	Cause error
}

// Error says which key's computation failed, and why.
func (e *FailedError) Error() string {
	return "herd: computing " + strconv.Quote(e.Key) + " failed in another caller: " + e.Cause.Error()
}

// Unwrap returns Cause.
func (e *FailedError) Unwrap() error { return e.Cause }
