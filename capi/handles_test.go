package main

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis-cache-go/redis-cache-go/core/cache"
	"github.com/redis-cache-go/redis-cache-go/core/client"
)

// newTestEntry is an entry on a server that is never dialled (nothing here
// touches the network).
func newTestEntry(t *testing.T) *entry {
	t.Helper()
	c, err := cache.Open(cache.Config{Endpoint: cache.Endpoint{Addr: "127.0.0.1:1"}})
	if err != nil {
		t.Fatal(err)
	}
	return &entry{c: c}
}

func TestCloseWaitsForTheCallsThatGotIn(t *testing.T) {
	tests := []struct {
		name     string
		inFlight int // calls that entered before close
		wantShut []bool
	}{
		// wantShut[i]: shut after close and then after each of the calls ended
		{name: "no call running", inFlight: 0, wantShut: []bool{true}},
		{name: "one call running", inFlight: 1, wantShut: []bool{false, true}},
		{name: "three calls running", inFlight: 3, wantShut: []bool{false, false, false, true}},
	}
	for _, tt := range tests {
		e := newTestEntry(t)
		for i := 0; i < tt.inFlight; i++ {
			if !e.enter() {
				t.Fatalf("%s: got a call refused before close; want it counted in", tt.name)
			}
		}
		if err := e.close(); err != nil {
			t.Fatalf("%s: close: %v", tt.name, err)
		}
		if got := e.shut.Load(); got != tt.wantShut[0] {
			t.Errorf("%s: got shut=%v right after close; want %v", tt.name, got, tt.wantShut[0])
		}
		if e.enter() {
			t.Errorf("%s: got a call let in after close; want it refused", tt.name)
		}
		for i := 0; i < tt.inFlight; i++ {
			e.done()
			if got := e.shut.Load(); got != tt.wantShut[i+1] {
				t.Errorf("%s: got shut=%v after %d of %d calls ended; want %v", tt.name, got, i+1, tt.inFlight, tt.wantShut[i+1])
			}
		}
		if got := e.calls.Load(); got != 0 {
			t.Errorf("%s: got %d calls counted at the end; want 0", tt.name, got)
		}
		if err := e.c.Ping(context.Background()); client.KindOf(err) != client.KindClosed {
			t.Errorf("%s: got %v from a call after the shutdown; want a closed error", tt.name, err)
		}
	}
}

// Every export that starts a call with use must end it with done: a missing
// done keeps a closed handle's connections open for good.
func TestEveryUseHasADone(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil || fn.Name.Name == "use" {
				continue
			}
			uses, dones := 0, 0
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				switch f := call.Fun.(type) {
				case *ast.Ident:
					if f.Name == "use" {
						uses++
					}
				case *ast.SelectorExpr:
					if f.Sel.Name == "done" {
						dones++
					}
				}
				return true
			})
			if uses > 0 && dones == 0 {
				t.Errorf("%s: %s calls use but never done; got 0 done calls; want at least 1", name, fn.Name.Name)
			}
		}
	}
}
