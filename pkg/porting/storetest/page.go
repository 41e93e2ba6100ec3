package storetest

import (
	"bytes"
	"context"

	"github.com/portreqd/portreqd/pkg/porting"
)

// Page is one listing read whole, its documents copied: what tests compare.
type Page struct {
	Docs [][]byte
	More bool // rows exist after the last one returned
}

// ListRequests collects a listing of s into a Page.
func ListRequests(ctx context.Context, s porting.RequestStore, q porting.ListQuery) (*Page, error) {
	p := &Page{Docs: [][]byte{}}
	rows, more, err := s.ListRequests(ctx, q)
	if err != nil {
		return nil, err
	}
	err = s.RequestDocs(ctx, porting.ListRowIDs(rows), func(_ string, doc []byte) error {
		p.Docs = append(p.Docs, bytes.Clone(doc))
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.More = more
	return p, nil
}

// Requests decodes the page, skipping what is not a live port request, as
// package rows does.
func (p *Page) Requests() []*porting.Request {
	out := make([]*porting.Request, 0, len(p.Docs))
	for _, raw := range p.Docs {
		if r, err := porting.DecodeRequest(raw); err == nil && r != nil && !r.Deleted {
			out = append(out, r)
		}
	}
	return out
}
