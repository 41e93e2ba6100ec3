package couch_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/engine/couch"
)

// TestUploadRefusedMidBody plays CouchDB refusing an upload at a stale
// revision before reading its body: it closes the connection at once, and
// the client, still writing, gets no answer. The engine must call that a
// conflict when the document has moved on (so the caller reads again), and
// not a failure of the server.
func TestUploadRefusedMidBody(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serveFake(c)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := couch.Open(ctx, couch.Options{URL: "http://" + ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	body := strings.NewReader(strings.Repeat("x", 8<<20))
	_, err = e.PutAttachment(ctx, "db", "doc", "1-stale", "a.pdf", "application/pdf", body)
	if !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("upload cut off by the server at a stale revision: %v, want a conflict", err)
	}
}

// serveFake answers GET / and GET /db as CouchDB, HEAD/GET /db/doc with
// revision 2-current, and closes any PUT without reading its body.
func serveFake(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		var status int
		var body string
		switch {
		case req.Method == http.MethodPut:
			return // refuse without reading: the client is mid-body
		case req.URL.Path == "/":
			status, body = 200, `{"couchdb":"Welcome","version":"3.4.3","vendor":{"name":"fake"}}`
		case req.URL.Path == "/db":
			status, body = 200, `{"db_name":"db","cluster":{"n":1}}`
		default:
			status, body = 200, `{"_id":"doc","_rev":"2-current"}`
		}
		fmt.Fprintf(c, "HTTP/1.1 %d OK\r\nContent-Type: application/json\r\nETag: \"2-current\"\r\nContent-Length: %d\r\n\r\n", status, len(body))
		if req.Method != http.MethodHead {
			fmt.Fprint(c, body)
		}
	}
}
