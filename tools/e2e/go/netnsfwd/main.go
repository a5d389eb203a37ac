// netnsfwd: TCP forwarder from an address inside a network namespace to an
// address in the caller's (host) namespace.
//
//	netnsfwd -netns /run/netns/NAME -listen 10.213.0.2:6443 -to 127.0.0.1:6443 [-listen A -to B ...]
//
// The listening sockets are opened on a thread switched into the namespace;
// the forwarder then dials from the host namespace. This lets the management
// apiserver advertise a non-loopback address (which the `kubernetes` Service
// needs) while the apiserver and etcd themselves listen on loopback only.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"

	"syscall"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

const sysSetns = 308 // x86_64; CLONE_NEWNET = 0x40000000

func setns(fd int) error {
	_, _, e := syscall.RawSyscall(sysSetns, uintptr(fd), 0x40000000, 0)
	if e != 0 {
		return e
	}
	return nil
}

// listenIn opens listeners inside the namespace at path, leaving the calling
// goroutine's thread locked and then restored to the original namespace.
func listenIn(path string, addrs []string) ([]net.Listener, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, err
	}
	defer self.Close()
	target, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer target.Close()
	if err := setns(int(target.Fd())); err != nil {
		return nil, fmt.Errorf("setns %s: %w", path, err)
	}
	var ls []net.Listener
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	if err := setns(int(self.Fd())); err != nil {
		// the thread is unusable; make sure the runtime never reuses it
		log.Fatalf("setns back: %v", err)
	}
	return ls, nil
}

func main() {
	netns := flag.String("netns", "", "path of the network namespace to listen in")
	var listens, tos list
	flag.Var(&listens, "listen", "address to listen on inside the namespace (repeatable)")
	flag.Var(&tos, "to", "address to forward to from the host namespace (repeatable, pairs with -listen)")
	flag.Parse()
	if *netns == "" || len(listens) == 0 || len(listens) != len(tos) {
		fmt.Fprintln(os.Stderr, "usage: netnsfwd -netns PATH -listen ADDR -to ADDR [...]")
		os.Exit(2)
	}
	ls, err := listenIn(*netns, listens)
	if err != nil {
		log.Fatal(err)
	}
	var wg sync.WaitGroup
	for i, l := range ls {
		wg.Add(1)
		go func(l net.Listener, to string) {
			defer wg.Done()
			log.Printf("forwarding %s (in %s) -> %s", l.Addr(), *netns, to)
			for {
				c, err := l.Accept()
				if err != nil {
					log.Printf("accept: %v", err)
					return
				}
				go pipe(c, to)
			}
		}(l, tos[i])
	}
	wg.Wait()
}

func pipe(in net.Conn, to string) {
	defer in.Close()
	out, err := net.Dial("tcp", to)
	if err != nil {
		log.Printf("dial %s: %v", to, err)
		return
	}
	defer out.Close()
	done := make(chan struct{}, 2)
	go func() { io.Copy(out, in); out.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	go func() { io.Copy(in, out); in.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}
