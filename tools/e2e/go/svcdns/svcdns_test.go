package main

import (
	"context"
	"encoding/binary"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const servicesJSON = `{"kind":"ServiceList","items":[
 {"metadata":{"name":"kubernetes","namespace":"default"},"spec":{"type":"ClusterIP","clusterIP":"10.215.0.1","clusterIPs":["10.215.0.1"]}},
 {"metadata":{"name":"t1-etcd","namespace":"tenants"},"spec":{"type":"ClusterIP","clusterIP":"None","publishNotReadyAddresses":true}},
 {"metadata":{"name":"web","namespace":"shop"},"spec":{"type":"ClusterIP","clusterIP":"None"}},
 {"metadata":{"name":"ext","namespace":"shop"},"spec":{"type":"ExternalName","externalName":"example.com"}}
]}`

const slicesJSON = `{"kind":"EndpointSliceList","items":[
 {"metadata":{"name":"kubernetes","namespace":"default","labels":{"kubernetes.io/service-name":"kubernetes"}},
  "addressType":"IPv4","endpoints":[{"addresses":["10.213.0.2"],"conditions":{"ready":true}}]},
 {"metadata":{"name":"t1-etcd-abc","namespace":"tenants","labels":{"kubernetes.io/service-name":"t1-etcd"}},
  "addressType":"IPv4","endpoints":[
   {"addresses":["10.214.0.7"],"hostname":"t1-etcd-0","conditions":{"ready":false}},
   {"addresses":["10.214.0.8"],"hostname":"t1-etcd-1","conditions":{"ready":true}}]},
 {"metadata":{"name":"web-abc","namespace":"shop","labels":{"kubernetes.io/service-name":"web"}},
  "addressType":"IPv4","endpoints":[
   {"addresses":["10.214.0.9"],"hostname":"web-0","conditions":{"ready":true}},
   {"addresses":["10.214.0.10"],"hostname":"web-1","conditions":{"ready":false}},
   {"addresses":["10.214.0.11"]}]}
]}`

// fakeAPIServer serves the two lists over TLS; it returns the URL and a CA file.
func fakeAPIServer(t *testing.T) (string, string) {
	t.Helper()
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("resourceVersion") != "0" {
			http.Error(w, "want resourceVersion=0", http.StatusBadRequest)
			return
		}
		switch r.URL.Path {
		case "/api/v1/services":
			w.Write([]byte(servicesJSON))
		case "/apis/discovery.k8s.io/v1/endpointslices":
			w.Write([]byte(slicesJSON))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	ca := filepath.Join(t.TempDir(), "ca.crt")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})
	if err := os.WriteFile(ca, block, 0o644); err != nil {
		t.Fatal(err)
	}
	return ts.URL, ca
}

func newTestServer(t *testing.T) *server {
	t.Helper()
	url, ca := fakeAPIServer(t)
	kc, err := newKubeClient(url, ca, "", "")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{zone: "cluster.local", timeout: 200 * time.Millisecond}
	r, err := kc.fetch(context.Background(), s.zone)
	if err != nil {
		t.Fatal(err)
	}
	s.records.Store(&r)
	return s
}

func query(id uint16, name string, qtype uint16) []byte {
	q := binary.BigEndian.AppendUint16(nil, id)
	q = append(q, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0)
	q = encodeName(q, name)
	q = binary.BigEndian.AppendUint16(q, qtype)
	return binary.BigEndian.AppendUint16(q, classIN)
}

type answer struct {
	rcode, an, ns int
	aa, tc        bool
	ips           []string
}

func decode(t *testing.T, id uint16, q, resp []byte) answer {
	t.Helper()
	h, err := parseHeader(resp)
	if err != nil {
		t.Fatal(err)
	}
	if h.id != id || !h.response() || !h.rd() {
		t.Fatalf("bad header %+v", h)
	}
	if got := resp[12 : 12+len(q)-12]; string(got) != string(q[12:]) {
		t.Fatalf("question not echoed: %x vs %x", got, q[12:])
	}
	a := answer{
		rcode: int(h.flags & 0xf), aa: h.flags&0x0400 != 0, tc: h.flags&0x0200 != 0,
		an: int(binary.BigEndian.Uint16(resp[6:])), ns: int(binary.BigEndian.Uint16(resp[8:])),
	}
	ips, err := parseAnswers(resp)
	if err != nil {
		t.Fatal(err)
	}
	for _, ip := range ips {
		a.ips = append(a.ips, ip.String())
	}
	return a
}

func TestAnswers(t *testing.T) {
	s := newTestServer(t)
	for _, tc := range []struct {
		name  string
		qtype uint16
		rcode int
		ips   []string
	}{
		{"kubernetes.default.svc.cluster.local", typeA, rcodeOK, []string{"10.215.0.1"}},
		{"KUBERNETES.Default.SVC.cluster.LOCAL", typeA, rcodeOK, []string{"10.215.0.1"}},
		{"kubernetes.default.svc.cluster.local", typeAAAA, rcodeOK, nil},
		// headless with publishNotReadyAddresses: not-ready endpoints count
		{"t1-etcd.tenants.svc.cluster.local", typeA, rcodeOK, []string{"10.214.0.7", "10.214.0.8"}},
		{"t1-etcd-0.t1-etcd.tenants.svc.cluster.local", typeA, rcodeOK, []string{"10.214.0.7"}},
		{"t1-etcd-1.t1-etcd.tenants.svc.cluster.local", typeA, rcodeOK, []string{"10.214.0.8"}},
		{"t1-etcd-0.t1-etcd.tenants.svc.cluster.local", typeAAAA, rcodeOK, nil},
		{"t1-etcd-2.t1-etcd.tenants.svc.cluster.local", typeA, rcodeNXDomain, nil},
		// headless without it: ready endpoints only
		{"web.shop.svc.cluster.local", typeA, rcodeOK, []string{"10.214.0.9", "10.214.0.11"}},
		{"web-0.web.shop.svc.cluster.local", typeA, rcodeOK, []string{"10.214.0.9"}},
		{"web-1.web.shop.svc.cluster.local", typeA, rcodeNXDomain, nil},
		{"ext.shop.svc.cluster.local", typeA, rcodeOK, nil},
		// ancestors exist, empty
		{"tenants.svc.cluster.local", typeA, rcodeOK, nil},
		{"svc.cluster.local", typeA, rcodeOK, nil},
		{"cluster.local", typeA, rcodeOK, nil},
		// search-path expansions of "t1-etcd.tenants.svc"
		{"t1-etcd.tenants.svc.tenants.svc.cluster.local", typeA, rcodeNXDomain, nil},
		{"t1-etcd.tenants.svc.svc.cluster.local", typeA, rcodeNXDomain, nil},
		{"nope.default.svc.cluster.local", typeA, rcodeNXDomain, nil},
		// outside the zone, no upstream
		{"example.com", typeA, rcodeRefused, nil},
	} {
		q := query(0xbeef, tc.name, tc.qtype)
		for _, udp := range []bool{true, false} {
			a := decode(t, 0xbeef, q, s.handle(q, udp))
			if a.rcode != tc.rcode || !reflect.DeepEqual(a.ips, tc.ips) {
				t.Errorf("%s type %d: rcode %d ips %v, want %d %v", tc.name, tc.qtype, a.rcode, a.ips, tc.rcode, tc.ips)
			}
			inZone := strings.HasSuffix(strings.ToLower(tc.name), "cluster.local")
			if a.aa != inZone {
				t.Errorf("%s: aa %v", tc.name, a.aa)
			}
			if inZone && len(tc.ips) == 0 && a.ns != 1 {
				t.Errorf("%s: negative answer without SOA", tc.name)
			}
		}
	}
}

func TestMalformedAndOpcodes(t *testing.T) {
	s := newTestServer(t)
	if s.handle([]byte{1, 2, 3}, true) != nil {
		t.Error("short message answered")
	}
	q := query(7, "kubernetes.default.svc.cluster.local", typeA)
	resp := append([]byte(nil), q...)
	resp[2] |= 0x80
	if s.handle(resp, true) != nil {
		t.Error("response answered")
	}
	trunc := q[:20]
	if h, _ := parseHeader(s.handle(trunc, true)); h.flags&0xf != rcodeFormErr {
		t.Errorf("truncated question: rcode %d", h.flags&0xf)
	}
	notify := append([]byte(nil), q...)
	notify[2] |= 4 << 3
	if h, _ := parseHeader(s.handle(notify, true)); h.flags&0xf != rcodeNotImp {
		t.Errorf("opcode 4: rcode %d", h.flags&0xf)
	}
	// not synced yet: SERVFAIL, so the client tries again
	empty := &server{zone: "cluster.local"}
	if a := decode(t, 7, q, empty.handle(q, true)); a.rcode != rcodeServFail {
		t.Errorf("unsynced: rcode %d", a.rcode)
	}
}

func TestTruncation(t *testing.T) {
	var ips []net.IP
	for i := 0; i < 40; i++ {
		ips = append(ips, net.IPv4(10, 214, 0, byte(i)).To4())
	}
	r := records{"big.ns.svc.cluster.local": ips}
	s := &server{zone: "cluster.local"}
	s.records.Store(&r)
	q := query(9, "big.ns.svc.cluster.local", typeA)
	if a := decode(t, 9, q, s.handle(q, true)); !a.tc || a.an != 0 {
		t.Errorf("udp: tc %v an %d", a.tc, a.an)
	}
	if a := decode(t, 9, q, s.handle(q, false)); a.tc || len(a.ips) != 40 {
		t.Errorf("tcp: tc %v %d answers", a.tc, len(a.ips))
	}
}

// TestForwardAndServe runs the real listeners: a fake upstream on loopback gets the
// queries outside the zone; a dead upstream gives SERVFAIL without hanging.
func TestForwardAndServe(t *testing.T) {
	up, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := up.ReadFrom(buf)
			if err != nil {
				return
			}
			h, _ := parseHeader(buf[:n])
			q, _ := parseQuestion(buf[:n])
			up.WriteTo(reply{answers: []net.IP{net.IPv4(192, 0, 2, 1)}}.encode(h, &q, "", true), from)
		}
	}()
	dead, _ := net.ListenPacket("udp", "127.0.0.1:0") // never answers
	defer dead.Close()

	s := newTestServer(t)
	s.upstreams = []string{dead.LocalAddr().String(), up.LocalAddr().String()}
	pc, l, err := listen("", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	defer l.Close()
	go s.serveUDP(pc)
	go s.serveTCP(l)

	q := query(11, "www.example.com", typeA)
	c, err := net.Dial("udp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(3 * time.Second))
	c.Write(q)
	buf := make([]byte, 512)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	if a := decode(t, 11, q, buf[:n]); a.rcode != rcodeOK || !reflect.DeepEqual(a.ips, []string{"192.0.2.1"}) {
		t.Errorf("forwarded: %+v", a)
	}

	s.upstreams = []string{dead.LocalAddr().String()}
	start := time.Now()
	c.Write(q)
	if n, err = c.Read(buf); err != nil {
		t.Fatal(err)
	}
	if a := decode(t, 11, q, buf[:n]); a.rcode != rcodeServFail {
		t.Errorf("dead upstream: %+v", a)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("dead upstream took %s", d)
	}

	// TCP, two queries on one connection
	tc, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(3 * time.Second))
	for _, name := range []string{"kubernetes.default.svc.cluster.local", "t1-etcd-1.t1-etcd.tenants.svc.cluster.local"} {
		q := query(12, name, typeA)
		if err := writeTCP(tc, q); err != nil {
			t.Fatal(err)
		}
		resp, err := readTCP(tc)
		if err != nil {
			t.Fatal(err)
		}
		if a := decode(t, 12, q, resp); a.rcode != rcodeOK || len(a.ips) != 1 {
			t.Errorf("tcp %s: %+v", name, a)
		}
	}

	// the -lookup client against the UDP listener
	if err := lookup(pc.LocalAddr().String(), "kubernetes.default.svc.cluster.local"); err != nil {
		t.Error(err)
	}
	if err := lookup(pc.LocalAddr().String(), "nope.default.svc.cluster.local"); err == nil {
		t.Error("lookup of an unknown name succeeded")
	}
}

func TestUpstreamsFrom(t *testing.T) {
	f := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(f, []byte("# c\nsearch example.org\nnameserver 10.255.255.53\nnameserver 10.213.0.2\nnameserver ::1\noptions ndots:1\n"), 0o644)
	got := upstreamsFrom(f, "10.213.0.2")
	if want := []string{"10.255.255.53:53", "[::1]:53"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
	if upstreamsFrom(filepath.Join(t.TempDir(), "missing"), "") != nil {
		t.Error("missing file gave upstreams")
	}
}
