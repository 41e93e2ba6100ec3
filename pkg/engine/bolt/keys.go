package bolt

import (
	"bytes"
	"encoding/binary"
)

// Composite keys. A view row is keyed by (collation key, document id) and
// must sort by the collation key first, then by the id's bytes, as CouchDB
// orders rows. Concatenating the two would be wrong if one collation key
// could be a prefix of another (collate.Key promises it cannot, but the
// order here does not depend on that promise): with keys K1 = "a" and
// K2 = "a\x01", the row (K1, "\x02") would sort after (K2, "") although
// K1 < K2.
//
// So the first part is escaped and terminated: each 0x00 byte is written
// as 0x00 0x01 and the part ends with 0x00 0x00. For parts a and b:
//   - at their first differing byte, if both bytes are non-zero they are
//     copied as they are; if one is 0x00 it became 0x00 0x01, which still
//     sorts below the other's non-zero byte;
//   - if a is a proper prefix of b, a's terminator 0x00 0x00 meets either
//     a non-zero byte of b or b's escaped 0x00 0x01, both greater.
//
// So esc(a) ‖ 00 00 ‖ x < esc(b) ‖ 00 00 ‖ y exactly when a < b, or a == b
// and x < y, whatever x and y are; and since esc never yields 00 00, the
// first 00 00 found walking the key in steps of escapes ends the part,
// which lets the id be read back. Every row of key K lies in
// [esc(K) 00 00, esc(K) 00 01): the upper bound is greater than every
// row of K and not greater than any row of a key after K. The same
// encoding of a document id prefixes the keys of its attachments and old
// revisions.

// appendEsc appends part escaped and terminated.
func appendEsc(dst, part []byte) []byte {
	for _, c := range part {
		if c == 0 {
			dst = append(dst, 0, 1)
		} else {
			dst = append(dst, c)
		}
	}
	return append(dst, 0, 0)
}

// rowKey is the stored key of view row (ck, id).
func rowKey(ck []byte, id string) []byte {
	out := make([]byte, 0, len(ck)+len(id)+4)
	out = appendEsc(out, ck)
	return append(out, id...)
}

// keyLow is the smallest row key of ck: esc(ck) 00 00.
func keyLow(ck []byte) []byte { return appendEsc(make([]byte, 0, len(ck)+3), ck) }

// keyHigh is past every row key of ck: esc(ck) 00 01.
func keyHigh(ck []byte) []byte {
	k := keyLow(ck)
	k[len(k)-1] = 1
	return k
}

// splitKey splits a composite key into its escaped first part (without
// terminator) and the rest; ok is false when there is no terminator.
func splitKey(k []byte) (first, rest []byte, ok bool) {
	for i := 0; i+1 < len(k); i++ {
		if k[i] != 0 {
			continue
		}
		if k[i+1] == 0 {
			return k[:i], k[i+2:], true
		}
		i++ // an escaped 0x00
	}
	return nil, nil, false
}

// idPrefix is the prefix of every key of id in the att and old buckets.
func idPrefix(id string) []byte { return appendEsc(make([]byte, 0, len(id)+2), []byte(id)) }

// attKey is the key of attachment name of id.
func attKey(id, name string) []byte { return append(idPrefix(id), name...) }

// oldKey is the key of a previous revision's body: generation first, so
// that a document's old revisions list oldest first.
func oldKey(id, rev string) []byte {
	k := idPrefix(id)
	k = binary.BigEndian.AppendUint64(k, uint64(revGen(rev)))
	return append(k, rev...)
}

// after is the smallest key greater than k: k ‖ 00.
func after(k []byte) []byte { return append(bytes.Clone(k), 0) }

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// blobKey is the key of one chunk of a blob.
func blobKey(blob uint64, chunk uint32) []byte {
	return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(make([]byte, 0, 12), blob), chunk)
}
