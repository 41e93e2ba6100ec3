package porting_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/portreqd/portreqd/pkg/porting"
)

// Each limit answers a clear validation error naming the member and the
// bound, and writes nothing; a request already over a limit lowered later
// stays editable while it does not grow.
func TestLimits(t *testing.T) {
	w := newWorld(t, porting.Rules{Limits: porting.Limits{NumbersPerRequest: 3, Comments: 2, CommentBytes: 20, Attachments: 2}})
	ctx := context.Background()
	numbers := func(n int) string {
		var parts []string
		for i := range n {
			parts = append(parts, fmt.Sprintf(`"+1202555%04d":{}`, 400+i))
		}
		return `"numbers":{` + strings.Join(parts, ",") + `}`
	}
	wantLimit := func(what string, err error, member, message string) {
		t.Helper()
		var pe *porting.Error
		if !errors.As(err, &pe) || pe.Kind != porting.KindValidation || !strings.Contains(fmt.Sprint(pe.Data), member) || !strings.Contains(fmt.Sprint(pe.Data), message) {
			t.Errorf("%s: %v, want a validation error on %s (%s)", what, err, member, message)
		}
	}
	_, err := w.svc.CreateRequest(ctx, w.customer, w.customer.ID, fields(t, `{"name":"big",`+numbers(4)+`}`))
	wantLimit("4 numbers", err, "numbers", "at most 3 numbers")
	r, err := w.svc.CreateRequest(ctx, w.customer, w.customer.ID, fields(t, `{"name":"ok",`+numbers(3)+`}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.svc.UpdateRequest(ctx, w.customer, w.customer.ID, r.ID, fields(t, `{"name":"grown",`+numbers(4)+`}`))
	wantLimit("grown to 4", err, "numbers", "at most 3 numbers")

	_, err = w.svc.AddComments(ctx, w.customer, w.customer.ID, r.ID, fields(t, `{"comments":[{"content":"this comment is far too long"}]}`))
	wantLimit("long comment", err, "comments.0.content", "at most 20 bytes")
	for i := range 2 {
		if _, err := w.svc.AddComments(ctx, w.customer, w.customer.ID, r.ID, fields(t, fmt.Sprintf(`{"comments":[{"content":"c%d"}]}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	_, err = w.svc.AddComments(ctx, w.customer, w.customer.ID, r.ID, fields(t, `{"comments":[{"content":"third"}]}`))
	wantLimit("third comment", err, "comments", "at most 2 comments")

	for _, name := range []string{"a.txt", "b.txt"} {
		if _, err := w.svc.PutAttachment(ctx, w.customer, w.customer.ID, r.ID, upload(name, "text/plain", "text"), false); err != nil {
			t.Fatal(err)
		}
	}
	_, err = w.svc.PutAttachment(ctx, w.customer, w.customer.ID, r.ID, upload("c.txt", "text/plain", "text"), false)
	wantLimit("third attachment", err, "attachments", "at most 2 attachments")
	if _, err := w.svc.PutAttachment(ctx, w.customer, w.customer.ID, r.ID, upload("a.txt", "text/plain", "text"), false); err != nil {
		t.Errorf("replacing an attachment at the limit: %v", err)
	}

	// Nothing refused was written.
	got, err := w.store.GetRequest(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got.Numbers()); n != 3 || len(got.Attachments) != 2 {
		t.Errorf("stored: %d numbers, %d attachments", n, len(got.Attachments))
	}

	// Lowered limits: the request over them stays editable, not growable.
	lower := porting.NewService(porting.Config{Store: w.store, Rules: porting.Rules{Limits: porting.Limits{NumbersPerRequest: 2}}})
	if _, err := lower.UpdateRequest(ctx, w.customer, w.customer.ID, r.ID, fields(t, `{"name":"renamed",`+numbers(3)+`}`)); err != nil {
		t.Errorf("editing a request over a lowered limit without growing it: %v", err)
	}
}
