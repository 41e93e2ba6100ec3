package couch

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/go-kivik/kivik/v4/couchdb/chttp"

	"github.com/portreqd/portreqd/pkg/engine"
)

var _ engine.Replicating = (*Engine)(nil)

// Replications reads the scheduler's state of every document in the
// server's _replicator database (GET /_scheduler/docs/_replicator).
func (e *Engine) Replications(ctx context.Context) ([]engine.Replication, error) {
	resp, err := e.raw.DoReq(ctx, http.MethodGet, "/_scheduler/docs/_replicator", &chttp.Options{
		Query: url.Values{"limit": {"100000"}}, Accept: "application/json", NoGzip: true})
	if err != nil {
		return nil, mapErr(err)
	}
	defer chttp.CloseBody(resp.Body)
	if err := chttp.ResponseError(resp); err != nil {
		return nil, mapErr(err)
	}
	body, err := readAnswer(resp, maxRowsBytes)
	if err != nil {
		return nil, err
	}
	var answer struct {
		Docs []struct {
			DocID  string          `json:"doc_id"`
			State  string          `json:"state"`
			Source string          `json:"source"`
			Target string          `json:"target"`
			Info   json.RawMessage `json:"info"`
		} `json:"docs"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, fmt.Errorf("%w: _scheduler/docs: %v", engine.ErrUnavailable, err)
	}
	out := make([]engine.Replication, 0, len(answer.Docs))
	for _, d := range answer.Docs {
		r := engine.Replication{DocID: d.DocID, State: d.State, Source: stripUser(d.Source), Target: stripUser(d.Target),
			DocsWritten: -1, ChangesPending: -1}
		var info struct {
			Error          any    `json:"error"`
			DocsWritten    *int64 `json:"docs_written"`
			ChangesPending *int64 `json:"changes_pending"`
		}
		if json.Unmarshal(d.Info, &info) == nil {
			if info.Error != nil {
				r.Error = fmt.Sprint(info.Error)
			}
			if info.DocsWritten != nil {
				r.DocsWritten = *info.DocsWritten
			}
			if info.ChangesPending != nil {
				r.ChangesPending = *info.ChangesPending
			}
		} else if len(d.Info) > 0 && d.Info[0] == '"' {
			_ = json.Unmarshal(d.Info, &r.Error) // older servers: the error as a string
		}
		out = append(out, r)
	}
	return out, nil
}

// stripUser removes the credentials of a URL the scheduler reports (it
// masks the password; the user name goes too).
func stripUser(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User = nil
	return u.String()
}
