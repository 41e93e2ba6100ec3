package api

import (
	"context"
	"net/http"

	"github.com/portreqd/portreqd/pkg/porting"
	"github.com/portreqd/portreqd/pkg/tokens"
)

// apiAuth exchanges an API key for a token (PUT /v2/api_auth).
func (a *API) apiAuth(c *call) (*reply, error) {
	data, err := c.data()
	if err != nil {
		return nil, err
	}
	key := data.String("api_key")
	if key == "" {
		return nil, porting.ValidationError("api_key", "required", "Field is required but missing", nil)
	}
	acct, err := a.svc.Authenticate(c.r.Context(), key)
	if err != nil {
		return nil, err
	}
	return a.loggedIn(c, acct, nil)
}

// loggedIn answers a login (api_auth, user_auth) as Crossbar does: a new
// token for acct (and user, who is nil for an API key), and who it speaks
// for.
func (a *API) loggedIn(c *call, acct *porting.Account, user *porting.User) (*reply, error) {
	id := tokens.Identity{AccountID: acct.ID}
	if user != nil {
		id.OwnerID = user.ID
	}
	token, err := a.tokens.IssueFor(id)
	if err != nil {
		return nil, err
	}
	if info := infoFrom(c.r); info != nil {
		info.account = acct.ID
	}
	answer, err := a.authAnswer(c.r.Context(), acct, user)
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusCreated, authTok: token, data: answer}, nil
}

// authAnswer is the data of Crossbar's answer to a login or a token's
// check (crossbar_util:response_auth): the account, the user, and what
// Monster UI sets up its session from.
func (a *API) authAnswer(ctx context.Context, acct *porting.Account, user *porting.User) (map[string]any, error) {
	reseller, err := a.svc.ResellerID(ctx, acct)
	if err != nil {
		return nil, err
	}
	answer := map[string]any{
		"account_id":   acct.ID,
		"account_name": acct.Name,
		"is_reseller":  acct.IsReseller(),
		"language":     accountLanguage(acct),
		"apps":         []any{},
	}
	if reseller != "" {
		answer["reseller_id"] = reseller
	}
	if user != nil {
		answer["owner_id"] = user.ID
		if l := user.Public.String("language"); l != "" {
			answer["language"] = l
		}
	}
	return answer, nil
}

// accountLanguage is the account's language, Kazoo's default "en-us" when
// it has none.
func accountLanguage(acct *porting.Account) string {
	if l := acct.Other.String("language"); l != "" {
		return l
	}
	return "en-us"
}

func (a *API) accountReply(c *call, acct *porting.Account, status int) (*reply, error) {
	view, err := a.svc.KazooAccountView(c.r.Context(), acct)
	if err != nil {
		return nil, err
	}
	return &reply{status: status, data: view, revision: acct.Rev}, nil
}

func (a *API) getAccount(c *call) (*reply, error) {
	id, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	acct, err := a.svc.Authorize(c.r.Context(), c.actor, id)
	if err != nil {
		return nil, err
	}
	return a.accountReply(c, acct, 0)
}

func (a *API) createAccount(c *call) (*reply, error) {
	parent, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	data, err := c.data()
	if err != nil {
		return nil, err
	}
	acct, err := a.svc.CreateAccount(c.r.Context(), c.actor, parent, data)
	if err != nil {
		return nil, err
	}
	return a.accountReply(c, acct, http.StatusCreated)
}

func (a *API) updateAccount(c *call) (*reply, error) {
	id, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	data, err := c.data()
	if err != nil {
		return nil, err
	}
	acct, err := a.svc.UpdateAccount(c.r.Context(), c.actor, id, data)
	if err != nil {
		return nil, err
	}
	return a.accountReply(c, acct, 0)
}

// accountSummary is a row of the children and descendants listings.
type accountSummary struct {
	ID   string   `json:"id"`
	Name string   `json:"name"`
	Tree []string `json:"tree"`
}

func summaries(accts []*porting.Account) []accountSummary {
	out := make([]accountSummary, 0, len(accts))
	for _, a := range accts {
		tree := a.Tree
		if tree == nil {
			tree = []string{}
		}
		out = append(out, accountSummary{ID: a.ID, Name: a.Name, Tree: tree})
	}
	return out
}

func (a *API) listChildren(c *call) (*reply, error) {
	id, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	accts, err := a.svc.Children(c.r.Context(), c.actor, id)
	if err != nil {
		return nil, err
	}
	rows := summaries(accts)
	return &reply{data: rows, paging: &paging{pageSize: len(rows)}}, nil
}

func (a *API) listDescendants(c *call) (*reply, error) {
	id, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	accts, err := a.svc.Descendants(c.r.Context(), c.actor, id)
	if err != nil {
		return nil, err
	}
	rows := summaries(accts)
	return &reply{data: rows, paging: &paging{pageSize: len(rows)}}, nil
}

func (a *API) getAPIKey(c *call) (*reply, error) {
	id, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	acct, err := a.svc.Authorize(c.r.Context(), c.actor, id)
	if err != nil {
		return nil, err
	}
	return &reply{data: map[string]any{"api_key": acct.APIKey}}, nil
}
