package requestjson

import "github.com/portreqd/portreqd/pkg/porting"

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
// json.Unmarshal into a nil []porting.Transition does, when every transition has
// the shape portreqd and Kazoo write (members named exactly as tagged, of
// their types); false (and *out untouched) otherwise.
func decodeTransitions(s *scanner, out *[]porting.Transition) bool {
	if s.null() {
		return true
	}
	list := make([]porting.Transition, 0, 4)
	ok := s.array(func() bool {
		list = append(list, porting.Transition{})
		return decodeTransition(s, &list[len(list)-1])
	})
	if ok {
		*out = list
	}
	return ok
}

// decodeTransition reads one transition object into t.
func decodeTransition(s *scanner, t *porting.Transition) bool {
	return s.object(func(from, to int) bool {
		switch string(s.b[from:to]) {
		case "timestamp":
			return s.int64Value(&t.Timestamp)
		case "type":
			return s.stringValue(&t.Type)
		case "reason":
			return s.stringValue(&t.Reason)
		case "transition":
			return s.object(func(from, to int) bool {
				switch string(s.b[from:to]) {
				case "new":
					return s.stringValue((*string)(&t.Transition.New))
				case "previous":
					return s.stringValue((*string)(&t.Transition.Previous))
				}
				return false
			})
		case "authorization":
			return s.object(func(from, to int) bool {
				if string(s.b[from:to]) != "account" {
					return false
				}
				return s.object(func(from, to int) bool {
					switch string(s.b[from:to]) {
					case "id":
						return s.stringValue(&t.Authorization.Account.ID)
					case "name":
						return s.stringValue(&t.Authorization.Account.Name)
					}
					return false
				})
			})
		}
		return false
	})
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
