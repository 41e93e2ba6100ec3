package rows

import (
	"context"
	"io"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/rawjson"
)

// Groups is a listing's rows arranged by account, accounts in the order of
// their newest row, each account's rows newest first. It holds only what
// the index said of each row (porting.ListRow); WriteJSON reads the
// documents a batch at a time as it writes, so an unpaginated listing of
// thousands of rows holds a batch of decoded documents, not all of them.
type Groups struct {
	rd     *Reader
	actor  *porting.Account
	order  []accountRows
	paged  bool // a page: every row goes into the document cache
	rowsIn int
}

type accountRows struct {
	account string
	rows    []porting.ListRow
}

// groups arranges rows (newest first) by account.
func (rd *Reader) groups(actor *porting.Account, rs []porting.ListRow, paged bool) *Groups {
	g := &Groups{rd: rd, actor: actor, paged: paged, rowsIn: len(rs)}
	index := map[string]int{}
	for _, r := range rs {
		i, ok := index[r.AccountID]
		if !ok {
			i = len(g.order)
			index[r.AccountID] = i
			g.order = append(g.order, accountRows{account: r.AccountID})
		}
		g.order[i].rows = append(g.order[i].rows, r)
	}
	return g
}

// groupBatch is how many documents WriteJSON reads at once.
const groupBatch = 100

// WriteJSON writes the groups as a JSON array, Kazoo's listing by account
// ([{"account_id", "account_name", "port_requests": [...]}]), and returns
// how many rows it wrote. Rows whose documents vanished or no longer
// decode since the index listed them are left out, and an account left
// with none is left out too. An error after the first write leaves the
// array unfinished: the caller must not finish the answer as a success.
func (g *Groups) WriteJSON(ctx context.Context, w io.Writer) (int, error) {
	if !g.paged {
		release, err := g.rd.wholeListing(ctx)
		if err != nil {
			return 0, err
		}
		defer release()
	}
	// Each piece goes to w as it is made: the API's writer holds a page
	// back and sends longer answers as they grow.
	var scratch []byte
	put := func(b []byte) error {
		_, err := w.Write(b)
		return err
	}
	if err := put([]byte{'['}); err != nil {
		return 0, err
	}
	rb := g.rd.newRows(g.actor)
	written, seen, groups := 0, 0, 0
	for _, ar := range g.order {
		inGroup := 0
		for from := 0; from < len(ar.rows); from += groupBatch {
			batch := ar.rows[from:min(from+groupBatch, len(ar.rows))]
			ls, err := g.rd.load(ctx, batch, func() bool { seen++; return g.paged || seen <= wholeListingCached })
			if err != nil {
				return written, err
			}
			for _, l := range ls {
				row, err := rb.row(ctx, l)
				if err != nil {
					return written, err
				}
				scratch = scratch[:0]
				if inGroup == 0 {
					name := ""
					if a, err := g.rd.svc.Account(ctx, ar.account); err == nil {
						name = a.Name // empty when the account cannot be read
					}
					scratch = appendGroupHead(scratch, groups > 0, ar.account, name)
					groups++
				} else {
					scratch = append(scratch, ',')
				}
				scratch = row.AppendJSON(scratch)
				if err := put(scratch); err != nil {
					return written, err
				}
				inGroup++
				written++
			}
		}
		if inGroup > 0 {
			if err := put([]byte("]}")); err != nil {
				return written, err
			}
		}
	}
	return written, put([]byte{']'})
}

// appendGroupHead opens an account's group: its id, its name and the
// start of its rows.
func appendGroupHead(b []byte, comma bool, account, name string) []byte {
	if comma {
		b = append(b, ',')
	}
	b = append(b, `{"account_id":`...)
	b = rawjson.AppendString(b, account)
	b = append(b, `,"account_name":`...)
	b = rawjson.AppendString(b, name)
	return append(b, `,"port_requests":[`...)
}

// load returns the requests of rows, in order, through the document cache:
// the documents the cache holds at the row's revision are not read; the
// others are read in one store call. keep says, row by row, whether a
// document read goes into the cache. Rows whose documents are gone, or
// are no live port request, are left out.
func (rd *Reader) load(ctx context.Context, rows []porting.ListRow, keep func() bool) ([]listed, error) {
	entries := make([]*cachedDoc, len(rows))
	keeps := make(map[string]bool, len(rows))
	var missing []string
	at := make(map[string]int, len(rows))
	for i, r := range rows {
		k := keep()
		if e := rd.docs.known([]byte(r.ID), []byte(r.Rev)); e != nil {
			entries[i] = e
			continue
		}
		missing = append(missing, r.ID)
		at[r.ID] = i
		keeps[r.ID] = k
	}
	if len(missing) > 0 {
		err := rd.store.RequestDocs(ctx, missing, func(id string, doc []byte) error {
			e, err := rd.docs.get([]byte(id), doc, keeps[id])
			if err != nil {
				// One broken document must not break the listing.
				rd.log.Warn("port request skipped: it does not decode", "request_id", id, "error", err)
				return nil
			}
			entries[at[id]] = e
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([]listed, 0, len(rows))
	for _, e := range entries {
		if e == nil || e.req == nil || e.req.Deleted {
			continue
		}
		out = append(out, listedOf(e.req, e))
	}
	return out, nil
}
