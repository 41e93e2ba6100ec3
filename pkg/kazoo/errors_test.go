package kazoo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/portreqd/portreqd/pkg/engine"
	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/views"
)

// Every engine sentinel maps to one domain kind; not found names the
// document only when the call was about one.
func TestStoreErr(t *testing.T) {
	for _, tt := range []struct {
		err  error
		id   string
		want porting.Kind
	}{
		{fmt.Errorf("x: %w", engine.ErrNotFound), "doc", porting.KindNotFound},
		{fmt.Errorf("x: %w", engine.ErrNotFound), "", porting.KindUnavailable},
		{fmt.Errorf("x: %w", engine.ErrConflict), "doc", porting.KindConflict},
		{fmt.Errorf("x: %w", engine.ErrUnavailable), "doc", porting.KindUnavailable},
		{fmt.Errorf("x: %w", engine.ErrBadRequest), "doc", porting.KindInternal},
		{context.DeadlineExceeded, "doc", porting.KindUnavailable},
		{errors.New("other"), "doc", porting.KindInternal},
		{porting.E(porting.KindConflict, "decided"), "", porting.KindConflict},
	} {
		if got := porting.KindOf(storeErr(tt.err, tt.id)); got != tt.want {
			t.Errorf("storeErr(%v, %q) kind %d, want %d", tt.err, tt.id, got, tt.want)
		}
	}
	if storeErr(nil, "x") != nil {
		t.Error("storeErr(nil) != nil")
	}
}

// Every view the store queries must be defined in views/, in the database
// (or class of databases) the store queries it in.
func TestViewsExist(t *testing.T) {
	own, err := views.Own()
	if err != nil {
		t.Fatal(err)
	}
	perClass, err := views.OwnPerClass()
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range []struct {
		name string
		docs []views.DesignDoc
		used []viewRef
	}{{"views.Own()", own, viewsUsed}, {"views.OwnPerClass()", perClass, classViewsUsed}} {
		for _, v := range set.used {
			if !slices.ContainsFunc(set.docs, func(d views.DesignDoc) bool {
				return d.DB == v.DB && d.ID == "_design/"+v.Design && slices.Contains(d.Views(), v.View)
			}) {
				t.Errorf("view %s/_design/%s/_view/%s is not in %s", v.DB, v.Design, v.View, set.name)
			}
		}
	}
}
