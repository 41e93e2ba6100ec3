package api

import (
	"net/http"

	"github.com/portreqd/portreqd/pkg/porting"
)

// userAuth logs a user in with Kazoo's credentials (PUT /v2/user_auth):
// the hex MD5 (or, with "method":"sha", SHA-1) of "username:password" and
// the account's name or realm, as Monster UI's login form sends them.
func (a *API) userAuth(c *call) (*reply, error) {
	data, err := c.data()
	if err != nil {
		return nil, err
	}
	creds := data.String("credentials")
	if creds == "" {
		return nil, porting.ValidationError("credentials", "required", "Field is required but missing", nil)
	}
	realm := data.String("account_realm")
	if realm == "" {
		realm = data.String("realm")
	}
	acct, user, err := a.svc.UserLogin(c.r.Context(), porting.LoginInput{
		Credentials: creds, Method: data.String("method"), AccountName: data.String("account_name"), Realm: realm})
	if err != nil {
		return nil, err
	}
	return a.loggedIn(c, acct, user)
}

// userView is a user as crossbar shows it: the public members and id.
func userView(u *porting.User) map[string]any {
	out := make(map[string]any, len(u.Public)+1)
	for k, v := range u.Public {
		out[k] = v
	}
	out["id"] = u.ID
	return out
}

// userRow is a user in a listing, the members of Kazoo's
// users/crossbar_listing.
func userRow(u *porting.User) map[string]any {
	row := map[string]any{"id": u.ID, "features": []string{}, "priv_level": u.Public.String("priv_level")}
	for _, k := range []string{"username", "email", "first_name", "last_name"} {
		if v, ok := u.Public[k]; ok {
			row[k] = v
		}
	}
	return row
}

func (a *API) listUsers(c *call) (*reply, error) {
	account, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	users, err := a.svc.ListUsers(c.r.Context(), c.actor, account)
	if err != nil {
		return nil, err
	}
	rows := make([]map[string]any, 0, len(users))
	for _, u := range users {
		rows = append(rows, userRow(u))
	}
	return &reply{data: rows, paging: &paging{pageSize: len(rows)}}, nil
}

func (a *API) createUser(c *call) (*reply, error) {
	account, err := c.pathID("account_id")
	if err != nil {
		return nil, err
	}
	data, err := c.data()
	if err != nil {
		return nil, err
	}
	u, err := a.svc.CreateUser(c.r.Context(), c.actor, account, data)
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusCreated, data: userView(u), revision: u.Rev}, nil
}

func (a *API) getUser(c *call) (*reply, error) {
	account, id, err := c.accountAnd("user_id")
	if err != nil {
		return nil, err
	}
	u, err := a.svc.GetUser(c.r.Context(), c.actor, account, id)
	if err != nil {
		return nil, err
	}
	return &reply{data: userView(u), revision: u.Rev}, nil
}

func (a *API) updateUser(c *call) (*reply, error) {
	account, id, err := c.accountAnd("user_id")
	if err != nil {
		return nil, err
	}
	data, err := c.data()
	if err != nil {
		return nil, err
	}
	u, err := a.svc.UpdateUser(c.r.Context(), c.actor, account, id, data)
	if err != nil {
		return nil, err
	}
	return &reply{data: userView(u), revision: u.Rev}, nil
}

func (a *API) deleteUser(c *call) (*reply, error) {
	account, id, err := c.accountAnd("user_id")
	if err != nil {
		return nil, err
	}
	u, err := a.svc.DeleteUser(c.r.Context(), c.actor, account, id)
	if err != nil {
		return nil, err
	}
	return &reply{data: userView(u), revision: u.Rev}, nil
}

// accountAnd reads the account id and another id of the path.
func (c *call) accountAnd(name string) (string, string, error) {
	account, err := c.pathID("account_id")
	if err != nil {
		return "", "", err
	}
	id, err := c.pathID(name)
	return account, id, err
}
