package client

import (
	"fmt"
	"testing"
)

func TestUnknownServiceMessage(t *testing.T) {
	for _, tt := range []struct {
		err  unknownServiceError
		want string
	}{
		{unknownServiceError{service: "cache", known: []string{"main", "x'y"}, answered: 3, of: 3},
			`no Sentinel knows a primary named 'cache' (check SENTINEL_SERVICE); primaries they know: 'main', 'x\'y'`},
		{unknownServiceError{service: "cache", known: []string{"main"}, answered: 1, of: 3},
			"no Sentinel knows a primary named 'cache' (check SENTINEL_SERVICE); 1 of 3 Sentinels answered; primaries they know: 'main'"},
		{unknownServiceError{service: "cache", answered: 2, of: 2},
			"no Sentinel knows a primary named 'cache' (check SENTINEL_SERVICE); they monitor no primary"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q; want %q", got, tt.want)
		}
	}
}

func TestUnknownServiceIsAServerError(t *testing.T) {
	err := fmt.Errorf("dial: %w", &unknownServiceError{service: "x"})
	if got := classify(err); got != KindServer {
		t.Fatalf("classify(%v): got %v; want %v (the Sentinels answered)", err, got, KindServer)
	}
}
