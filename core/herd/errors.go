package herd

import "errors"

// errSpent is returned by Publish or Abandon on a ticket already ended.
var errSpent = errors.New("herd: the ticket was already published or abandoned")
