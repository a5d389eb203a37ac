// svcdns: a minimal cluster DNS for the e2e harness (what CoreDNS is in a real cluster).
//
//	svcdns -listen 10.213.0.2:53 [-netns /run/netns/NAME] -server https://127.0.0.1:6443 \
//	       -ca ca.crt -cert dns.crt -key dns.key [-zone cluster.local] [-resolv /etc/resolv.conf]
//
// Answers over UDP and TCP, in the zone (the kubelet's clusterDomain):
//
//	<svc>.<ns>.svc.<zone>             A: the ClusterIP; headless: the ready endpoint addresses
//	                                  (not-ready ones too with publishNotReadyAddresses)
//	<hostname>.<svc>.<ns>.svc.<zone>  A: the endpoint of a headless Service with that hostname
//	                                  (StatefulSet pods with spec.subdomain)
//
// Names match case-insensitively. A known name asked for another type gets an empty NOERROR;
// an unknown name in the zone gets NXDOMAIN. Other names are forwarded to the nameservers of
// -resolv (SERVFAIL when none answers within 2 s, REFUSED when there are none).
//
// Services and EndpointSlices are listed from the apiserver every -interval. With -netns the
// sockets are opened inside that network namespace (like netnsfwd); the apiserver and the
// upstream nameservers are reached from the caller's namespace.
//
// -lookup NAME sends one A query to -listen and prints the addresses (exit 1 on NXDOMAIN or
// an error): the harness's readiness check.
package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

type server struct {
	zone      string   // lower case, no trailing dot
	upstreams []string // host:port
	records   atomic.Pointer[records]
	timeout   time.Duration
}

// handle answers one query message; nil means send nothing.
func (s *server) handle(msg []byte, udp bool) []byte {
	h, err := parseHeader(msg)
	if err != nil || h.response() {
		return nil
	}
	if h.opcode() != 0 {
		return reply{rcode: rcodeNotImp}.encode(h, nil, s.zone, udp)
	}
	if h.qdcount != 1 {
		return reply{rcode: rcodeFormErr}.encode(h, nil, s.zone, udp)
	}
	q, err := parseQuestion(msg)
	if err != nil {
		return reply{rcode: rcodeFormErr}.encode(h, nil, s.zone, udp)
	}
	name := strings.ToLower(q.name)
	if name != s.zone && !strings.HasSuffix(name, "."+s.zone) {
		return s.forward(msg, h, &q, udp)
	}
	if q.class != classIN && q.class != typeANY {
		return reply{rcode: rcodeNotImp}.encode(h, &q, s.zone, udp)
	}
	recs := s.records.Load()
	if recs == nil { // not synced with the apiserver yet: let the client retry
		return reply{rcode: rcodeServFail}.encode(h, &q, s.zone, udp)
	}
	ips, ok := (*recs)[name]
	if !ok && name != s.zone {
		return reply{rcode: rcodeNXDomain, authoritative: true, soa: true}.encode(h, &q, s.zone, udp)
	}
	r := reply{rcode: rcodeOK, authoritative: true}
	if q.qtype == typeA || q.qtype == typeANY {
		r.answers = ips
	}
	r.soa = len(r.answers) == 0
	return r.encode(h, &q, s.zone, udp)
}

// forward relays a query outside the zone to the upstream nameservers, over the
// transport the client used.
func (s *server) forward(msg []byte, h header, q *question, udp bool) []byte {
	if len(s.upstreams) == 0 {
		return reply{rcode: rcodeRefused}.encode(h, q, s.zone, udp)
	}
	for _, up := range s.upstreams {
		resp, err := exchange(up, msg, udp, s.timeout)
		if err == nil && len(resp) >= 12 && binary.BigEndian.Uint16(resp) == h.id {
			return resp
		}
	}
	return reply{rcode: rcodeServFail}.encode(h, q, s.zone, udp)
}

// exchange sends MSG to ADDR and returns the response.
func exchange(addr string, msg []byte, udp bool, timeout time.Duration) ([]byte, error) {
	network := "tcp"
	if udp {
		network = "udp"
	}
	c, err := net.DialTimeout(network, addr, timeout)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if udp {
		if _, err := c.Write(msg); err != nil {
			return nil, err
		}
		buf := make([]byte, 65535)
		n, err := c.Read(buf)
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
	if err := writeTCP(c, msg); err != nil {
		return nil, err
	}
	return readTCP(c)
}

func writeTCP(w io.Writer, msg []byte) error {
	_, err := w.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...))
	return err
}

func readTCP(r io.Reader) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(l[:]))
	_, err := io.ReadFull(r, msg)
	return msg, err
}

// serveUDP answers on PC until it fails (or is closed).
func (s *server) serveUDP(pc net.PacketConn) error {
	buf := make([]byte, 65535)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return fmt.Errorf("udp: %w", err)
		}
		msg := append([]byte(nil), buf[:n]...)
		go func() {
			if resp := s.handle(msg, true); resp != nil {
				pc.WriteTo(resp, from)
			}
		}()
	}
}

// serveTCP answers on L until it fails (or is closed).
func (s *server) serveTCP(l net.Listener) error {
	for {
		c, err := l.Accept()
		if err != nil {
			return fmt.Errorf("tcp: %w", err)
		}
		go func() {
			defer c.Close()
			for {
				c.SetDeadline(time.Now().Add(10 * time.Second))
				msg, err := readTCP(c)
				if err != nil {
					return
				}
				resp := s.handle(msg, false)
				if resp == nil || writeTCP(c, resp) != nil {
					return
				}
			}
		}()
	}
}

// sync refreshes the records every interval, forever; failures keep the last records.
func (s *server) sync(kc *kubeClient, interval time.Duration) {
	failing := false
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r, err := kc.fetch(ctx, s.zone)
		cancel()
		if err != nil {
			if !failing {
				log.Printf("sync: %v (retrying every %s)", err, interval)
			}
			failing = true
		} else {
			if failing || s.records.Load() == nil {
				log.Printf("synced: %d names", len(r))
			}
			failing = false
			s.records.Store(&r)
		}
		time.Sleep(interval)
	}
}

// upstreamsFrom reads the nameservers of a resolv.conf, leaving out SELF (no loops).
func upstreamsFrom(path, self string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	var ups []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" && net.ParseIP(fields[1]) != nil && fields[1] != self {
			ups = append(ups, net.JoinHostPort(fields[1], "53"))
		}
	}
	return ups
}

const sysSetns = 308 // x86_64; CLONE_NEWNET = 0x40000000

func setns(fd int) error {
	_, _, e := syscall.RawSyscall(sysSetns, uintptr(fd), 0x40000000, 0)
	if e != 0 {
		return e
	}
	return nil
}

// listen opens the UDP and TCP sockets on ADDR, inside the namespace at NETNS when set
// (on a locked thread switched there and back, as in netnsfwd).
func listen(netns, addr string) (net.PacketConn, net.Listener, error) {
	if netns != "" {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			return nil, nil, err
		}
		defer self.Close()
		target, err := os.Open(netns)
		if err != nil {
			return nil, nil, err
		}
		defer target.Close()
		if err := setns(int(target.Fd())); err != nil {
			return nil, nil, fmt.Errorf("setns %s: %w", netns, err)
		}
		defer func() {
			if err := setns(int(self.Fd())); err != nil {
				log.Fatalf("setns back: %v", err) // the thread is unusable
			}
		}()
	}
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		pc.Close()
		return nil, nil, err
	}
	return pc, l, nil
}

// lookup: the -lookup client.
func lookup(server, name string) error {
	q := []byte{0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0}
	q = encodeName(q, strings.TrimSuffix(name, "."))
	q = binary.BigEndian.AppendUint16(q, typeA)
	q = binary.BigEndian.AppendUint16(q, classIN)
	resp, err := exchange(server, q, true, 2*time.Second)
	if err != nil {
		return err
	}
	h, err := parseHeader(resp)
	if err != nil {
		return err
	}
	if rc := h.flags & 0xf; rc != rcodeOK {
		return fmt.Errorf("%s: rcode %d", name, rc)
	}
	ips, err := parseAnswers(resp)
	if err != nil {
		return err
	}
	for _, ip := range ips {
		fmt.Println(ip)
	}
	return nil
}

// parseAnswers returns the A records of a response to a single question (answer names
// are not checked: they may be compressed).
func parseAnswers(msg []byte) ([]net.IP, error) {
	q, err := parseQuestion(msg)
	if err != nil {
		return nil, err
	}
	off := 12 + len(q.raw)
	var ips []net.IP
	for i := 0; i < int(binary.BigEndian.Uint16(msg[6:])); i++ {
		for { // skip the owner name
			if off >= len(msg) {
				return nil, errMalformed
			}
			n := int(msg[off])
			if n&0xc0 == 0xc0 {
				off += 2
				break
			}
			off += 1 + n
			if n == 0 {
				break
			}
		}
		if off+10 > len(msg) {
			return nil, errMalformed
		}
		t := binary.BigEndian.Uint16(msg[off:])
		l := int(binary.BigEndian.Uint16(msg[off+8:]))
		off += 10
		if off+l > len(msg) {
			return nil, errMalformed
		}
		if t == typeA && l == 4 {
			ips = append(ips, net.IP(append([]byte(nil), msg[off:off+4]...)))
		}
		off += l
	}
	return ips, nil
}

func main() {
	listenAddr := flag.String("listen", "", "address to answer on (UDP and TCP), e.g. 10.213.0.2:53")
	netns := flag.String("netns", "", "path of the network namespace to listen in (default: the current one)")
	apiserver := flag.String("server", "https://127.0.0.1:6443", "kube-apiserver URL")
	ca := flag.String("ca", "", "CA bundle of the apiserver")
	cert := flag.String("cert", "", "client certificate")
	key := flag.String("key", "", "client key")
	zone := flag.String("zone", "cluster.local", "cluster domain")
	resolv := flag.String("resolv", "/etc/resolv.conf", "resolv.conf whose nameservers get the queries outside the zone")
	interval := flag.Duration("interval", time.Second, "how often to list Services and EndpointSlices")
	lookupName := flag.String("lookup", "", "client mode: resolve this name (A) at -listen and print the addresses")
	flag.Parse()
	if *listenAddr == "" || (*lookupName == "" && *ca == "") {
		fmt.Fprintln(os.Stderr, "usage: svcdns -listen ADDR [-netns PATH] -server URL -ca FILE -cert FILE -key FILE | svcdns -listen ADDR -lookup NAME")
		os.Exit(2)
	}
	if *lookupName != "" {
		if err := lookup(*listenAddr, *lookupName); err != nil {
			fmt.Fprintln(os.Stderr, "svcdns:", err)
			os.Exit(1)
		}
		return
	}
	host, _, err := net.SplitHostPort(*listenAddr)
	if err != nil {
		log.Fatal(err)
	}
	s := &server{
		zone:      strings.ToLower(strings.Trim(*zone, ".")),
		upstreams: upstreamsFrom(*resolv, host),
		timeout:   2 * time.Second,
	}
	kc, err := newKubeClient(*apiserver, *ca, *cert, *key)
	if err != nil {
		log.Fatal(err)
	}
	pc, l, err := listen(*netns, *listenAddr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("answering %s on %s (udp, tcp)%s; upstreams %v", s.zone, *listenAddr,
		map[bool]string{true: " in " + *netns}[*netns != ""], s.upstreams)
	go s.sync(kc, *interval)
	go func() { log.Fatal(s.serveTCP(l)) }()
	log.Fatal(s.serveUDP(pc))
}
