package main

import (
	"encoding/binary"
	"errors"
	"net"
	"strings"
)

// DNS wire format (RFC 1035), only as much as a stub resolver's queries need.

const (
	typeA    = 1
	typeNS   = 2
	typeSOA  = 6
	typeAAAA = 28
	typeANY  = 255
	classIN  = 1

	rcodeOK       = 0
	rcodeFormErr  = 1
	rcodeServFail = 2
	rcodeNXDomain = 3
	rcodeNotImp   = 4
	rcodeRefused  = 5

	ttl        = 5   // seconds; Services change while tests run
	maxUDPSize = 512 // we do not answer EDNS0, so classic UDP size
)

var errMalformed = errors.New("malformed DNS message")

type question struct {
	name  string // as sent (case kept), without the trailing dot; "" is the root
	qtype uint16
	class uint16
	raw   []byte // the question's bytes, echoed back verbatim
}

type header struct {
	id      uint16
	flags   uint16
	qdcount uint16
}

func (h header) response() bool { return h.flags&0x8000 != 0 }
func (h header) opcode() int    { return int(h.flags>>11) & 0xf }
func (h header) rd() bool       { return h.flags&0x0100 != 0 }

func parseHeader(msg []byte) (header, error) {
	if len(msg) < 12 {
		return header{}, errMalformed
	}
	return header{
		id:      binary.BigEndian.Uint16(msg[0:]),
		flags:   binary.BigEndian.Uint16(msg[2:]),
		qdcount: binary.BigEndian.Uint16(msg[4:]),
	}, nil
}

// parseQuestion reads the first question (at offset 12). Queries carry no compression
// pointers in practice; one is rejected as malformed rather than followed.
func parseQuestion(msg []byte) (question, error) {
	off := 12
	var labels []string
	total := 0
	for {
		if off >= len(msg) {
			return question{}, errMalformed
		}
		n := int(msg[off])
		off++
		if n == 0 {
			break
		}
		if n&0xc0 != 0 || off+n > len(msg) {
			return question{}, errMalformed
		}
		total += n + 1
		if total > 255 {
			return question{}, errMalformed
		}
		labels = append(labels, string(msg[off:off+n]))
		off += n
	}
	if off+4 > len(msg) {
		return question{}, errMalformed
	}
	q := question{
		name:  strings.Join(labels, "."),
		qtype: binary.BigEndian.Uint16(msg[off:]),
		class: binary.BigEndian.Uint16(msg[off+2:]),
	}
	q.raw = msg[12 : off+4]
	return q, nil
}

// encodeName writes NAME (dot-separated, no trailing dot) in wire format.
func encodeName(b []byte, name string) []byte {
	if name != "" {
		for _, l := range strings.Split(name, ".") {
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
	}
	return append(b, 0)
}

// reply builds a response to the query with header H and question Q.
type reply struct {
	rcode         int
	authoritative bool
	answers       []net.IP // A records for the question's name
	soa           bool     // add the zone's SOA in the authority section (negative answers)
}

// encode renders the reply; over UDP a reply longer than 512 bytes is truncated (TC set,
// no answers), so the client retries over TCP.
func (r reply) encode(h header, q *question, zone string, udp bool) []byte {
	b := make([]byte, 12, 128)
	binary.BigEndian.PutUint16(b[0:], h.id)
	flags := uint16(0x8000) | uint16(h.opcode())<<11 | h.flags&0x0100 | 0x0080 | uint16(r.rcode&0xf)
	if r.authoritative {
		flags |= 0x0400
	}
	if q == nil {
		binary.BigEndian.PutUint16(b[2:], flags)
		return b
	}
	binary.BigEndian.PutUint16(b[4:], 1)
	b = append(b, q.raw...)
	for _, ip := range r.answers {
		b = append(b, 0xc0, 12) // pointer to the question's name
		b = binary.BigEndian.AppendUint16(b, typeA)
		b = binary.BigEndian.AppendUint16(b, classIN)
		b = binary.BigEndian.AppendUint32(b, ttl)
		b = binary.BigEndian.AppendUint16(b, 4)
		b = append(b, ip.To4()...)
	}
	binary.BigEndian.PutUint16(b[6:], uint16(len(r.answers)))
	if r.soa {
		b = encodeName(b, zone)
		b = binary.BigEndian.AppendUint16(b, typeSOA)
		b = binary.BigEndian.AppendUint16(b, classIN)
		b = binary.BigEndian.AppendUint32(b, ttl)
		lenAt := len(b)
		b = append(b, 0, 0)
		b = encodeName(b, "ns.dns."+zone)
		b = encodeName(b, "hostmaster."+zone)
		for _, v := range []uint32{1, 60, 10, 3600, ttl} { // serial refresh retry expire minimum
			b = binary.BigEndian.AppendUint32(b, v)
		}
		binary.BigEndian.PutUint16(b[lenAt:], uint16(len(b)-lenAt-2))
		binary.BigEndian.PutUint16(b[8:], 1)
	}
	if udp && len(b) > maxUDPSize {
		b = b[:12+len(q.raw)]
		binary.BigEndian.PutUint16(b[6:], 0)
		binary.BigEndian.PutUint16(b[8:], 0)
		binary.BigEndian.PutUint16(b[2:], flags|0x0200)
		return b
	}
	binary.BigEndian.PutUint16(b[2:], flags)
	return b
}
