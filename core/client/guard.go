package client

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/redis-cache-go/redis-cache-go/core/respguard"
)

// guardedDialer dials as go-redis' default dialer does (TCP or unix; TLS
// when tlsConfig is set) and wraps each connection twice. respguard, on the
// outside, checks replies, so a reply that breaks RESP or its limits
// (nesting, lengths, a header whose payload never comes) fails the call as
// a connection error before go-redis' reader, which trusts what a header
// declares, can crash the process or allocate what was never sent. A
// trackedConn (staleconn.go), under it, sees every byte as it arrives, also
// the ones respguard holds back: a connection that broke after reply bytes
// came is never taken for one that broke before (resendHook).
func guardedDialer(timeout time.Duration, tlsConfig *tls.Config) func(context.Context, string, string) (net.Conn, error) {
	dial := redis.NewDialer(&redis.Options{DialTimeout: timeout, TLSConfig: tlsConfig})
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return respguard.Wrap(track(c)), nil
	}
}
