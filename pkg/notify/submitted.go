package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/portreqd/portreqd/pkg/porting"
)

// SubmittedURL is Kazoo's port request crawler as a channel: a submitted
// request of an account whose document names submitted_port_requests_url
// is posted there (its JSON to <url>/<id>, each attachment to
// <url>/<id>/<name>); once every post answered 200 the request is marked
// sent (pvt_sent), as knm_port_request does.
type SubmittedURL struct {
	Store    MailStore
	Account  func(ctx context.Context, id string) (*porting.Account, error)
	MarkSent func(ctx context.Context, id string) error
	// AllowPrivate: as Webhooks.AllowPrivate.
	AllowPrivate bool
	client       *http.Client
}

// submittedMember is the account member naming the URL (Kazoo's).
const submittedMember = "submitted_port_requests_url"

func (s *SubmittedURL) Name() string { return "submitted_url" }

// Targets is the channel itself for a submission of an account with a URL.
func (s *SubmittedURL) Targets(ctx context.Context, e *porting.Event) ([]string, error) {
	if e.Type != porting.EventSubmitted {
		return nil, nil
	}
	u, err := s.url(ctx, e.AccountID)
	if err != nil || u == "" {
		return nil, err
	}
	return []string{s.Name()}, nil
}

func (s *SubmittedURL) url(ctx context.Context, accountID string) (string, error) {
	a, err := s.Account(ctx, accountID)
	if porting.IsKind(err, porting.KindNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimRight(a.Other.String(submittedMember), "/"), nil
}

// Deliver posts the request and its attachments, then marks it sent. A
// request no longer submitted, or sent already, needs nothing.
func (s *SubmittedURL) Deliver(ctx context.Context, d *porting.Delivery) error {
	r, err := s.Store.GetRequest(ctx, d.Event.RequestID)
	if err != nil {
		return err
	}
	if r.State != porting.Submitted || r.Sent {
		return nil
	}
	base, err := s.url(ctx, r.AccountID)
	if err != nil {
		return err
	}
	if base == "" {
		return ErrNoRecipients
	}
	if s.client == nil {
		s.client = newHTTPClient(s.AllowPrivate)
	}
	body, err := json.Marshal(r.View())
	if err != nil {
		return err
	}
	if err := s.post(ctx, base+"/"+url.PathEscape(r.ID), "application/json", body); err != nil {
		return err
	}
	names := make([]string, 0, len(r.Attachments))
	for n := range r.Attachments {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		a, err := s.Store.GetAttachment(ctx, r.ID, n)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(a.Body)
		a.Body.Close()
		if err != nil {
			return err
		}
		if err := s.post(ctx, base+"/"+url.PathEscape(r.ID)+"/"+url.PathEscape(n), a.ContentType, buf.Bytes()); err != nil {
			return err
		}
	}
	return s.MarkSent(ctx, r.ID)
}

func (s *SubmittedURL) post(ctx context.Context, u, ctype string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return errorf("%s: %v", submittedMember, err)
	}
	req.Header.Set("Content-Type", ctype)
	resp, err := s.client.Do(req)
	if err != nil {
		return errorf("%s: %v", submittedMember, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errorf("%s %s answered %d", submittedMember, u, resp.StatusCode)
	}
	return nil
}
