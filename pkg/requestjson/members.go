package requestjson

import (
	"bytes"
	"strings"

	"github.com/portreqd/portreqd/pkg/porting"
)

// The typed members of a request, read by the scanner when they have the
// shape Kazoo and portreqd write; anything else goes to encoding/json.

// decodeStrings reads the value at s, valid JSON, into *out as
// json.Unmarshal into a nil []string does, when it is null or an array of
// plain strings; false (and *out untouched) otherwise.
func decodeStrings(s *scanner, out *[]string) bool {
	if s.null() {
		return true
	}
	list := make([]string, 0, 4)
	ok := s.array(func() bool {
		from, to, ok := s.plainStr()
		if ok {
			list = append(list, s.sub(from, to))
		}
		return ok
	})
	if ok {
		*out = list
	}
	return ok
}

// decodeTransitions reads the value at s, valid JSON, into *out as
// json.Unmarshal into a nil []porting.Transition does, when every member
// portreqd reads has the type it reads (other members are skipped, kept in
// each entry's Raw); false (and *out untouched) otherwise.
func decodeTransitions(s *scanner, out *[]porting.Transition) bool {
	if s.null() {
		return true
	}
	list := make([]porting.Transition, 0, 4)
	ok := s.array(func() bool {
		list = append(list, porting.Transition{})
		t := &list[len(list)-1]
		from := s.i
		if !decodeTransition(s, t) {
			return false
		}
		t.Raw = bytes.Clone(s.b[from:s.i])
		return true
	})
	if ok {
		*out = list
	}
	return ok
}

// decodeTransition reads one transition object into t.
func decodeTransition(s *scanner, t *porting.Transition) bool {
	return s.object(func(from, to int) bool {
		switch name := string(s.b[from:to]); name {
		case "timestamp":
			return s.int64Value(&t.Timestamp)
		case "type":
			return s.stringValue(&t.Type)
		case "reason":
			return s.stringValue(&t.Reason)
		case "transition":
			return s.object(func(from, to int) bool {
				switch name := string(s.b[from:to]); name {
				case "new":
					return s.stringValue((*string)(&t.Transition.New))
				case "previous":
					return s.stringValue((*string)(&t.Transition.Previous))
				default:
					return s.skipOther(name, "new", "previous")
				}
			})
		case "authorization":
			return s.object(func(from, to int) bool {
				switch name := string(s.b[from:to]); name {
				case "account":
					return s.object(func(from, to int) bool {
						switch name := string(s.b[from:to]); name {
						case "id":
							return s.stringValue(&t.Authorization.Account.ID)
						case "name":
							return s.stringValue(&t.Authorization.Account.Name)
						default:
							return s.skipOther(name, "id", "name")
						}
					})
				case "user":
					return decodeTransitionUser(s, &t.Authorization.User)
				default:
					return s.skipOther(name, "account", "user")
				}
			})
		default:
			return s.skipOther(name, "timestamp", "type", "reason", "transition", "authorization")
		}
	})
}

// decodeTransitionUser reads authorization.user into *u as encoding/json
// does: null leaves it as it is, an object fills a new one.
func decodeTransitionUser(s *scanner, u **porting.TransitionUser) bool {
	if s.null() {
		return true
	}
	if *u != nil {
		return false // encoding/json fills the one there: leave it to it
	}
	v := &porting.TransitionUser{}
	ok := s.object(func(from, to int) bool {
		switch name := string(s.b[from:to]); name {
		case "id":
			return s.stringValue(&v.ID)
		case "first_name":
			return s.stringValue(&v.FirstName)
		case "last_name":
			return s.stringValue(&v.LastName)
		case "full_name":
			return s.stringValue(&v.FullName)
		default:
			return s.skipOther(name, "id", "first_name", "last_name", "full_name")
		}
	})
	if ok {
		*u = v
	}
	return ok
}

// skipOther skips the value of member name, one encoding/json would not
// read into any of the fields named known (it matches names without
// regard to case); false, to leave the member to encoding/json, when it
// would.
func (s *scanner) skipOther(name string, known ...string) bool {
	for _, k := range known {
		if strings.EqualFold(name, k) {
			return false
		}
	}
	s.ws()
	return s.skip(0)
}

// decodeAttachments reads the value at s, valid JSON, into *out as
// json.Unmarshal into a nil map[string]porting.Attachment does, when every entry
// has the shape CouchDB writes; false (and *out untouched) otherwise.
func decodeAttachments(s *scanner, out *map[string]porting.Attachment) bool {
	if s.null() {
		return true
	}
	if s.next() != '{' {
		return false
	}
	atts := make(map[string]porting.Attachment, 2)
	ok := s.object(func(from, to int) bool {
		var a porting.Attachment
		var revpos int64
		ok := s.object(func(from, to int) bool {
			switch string(s.b[from:to]) {
			case "content_type":
				return s.stringValue(&a.ContentType)
			case "length":
				return s.int64Value(&a.Length)
			case "digest":
				return s.stringValue(&a.Digest)
			case "revpos":
				return s.int64Value(&revpos)
			case "stub":
				return s.boolValue(&a.Stub)
			}
			return false
		})
		a.Revpos = int(revpos)
		atts[s.sub(from, to)] = a
		return ok && int64(a.Revpos) == revpos
	})
	if !ok {
		return false
	}
	*out = atts
	return true
}
