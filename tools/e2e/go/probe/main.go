// probe: a tiny static HTTP(S) client for e2e checks inside containers
// (busybox-static's wget segfaults there) and on the host.
//
//	probe [-cacert FILE] [-cert FILE -key FILE] [-insecure] [-timeout 5s]
//	      [-retry-for 0s] [-expect-status 200] [-expect-body SUBSTR] URL
//
// Prints the status line and body to stdout; exits 0 when the expectations
// hold, 1 otherwise. -retry-for keeps trying until the deadline.
// With no URL and -sleep, it just sleeps (handy as a long-running container).
// With no URL and -lookup NAME, it resolves NAME through the container's resolv.conf
// (search list and ndots apply, as for any client) and prints the addresses.
// With no URL and -dial HOST:PORT, it opens one TCP connection (no TLS, nothing sent) and
// exits 0 when the connection is accepted: reachability, whatever the protocol behind.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func main() {
	cacert := flag.String("cacert", "", "PEM bundle to trust instead of the system pool")
	cert := flag.String("cert", "", "client certificate (PEM)")
	key := flag.String("key", "", "client key (PEM)")
	insecure := flag.Bool("insecure", false, "skip server certificate verification")
	timeout := flag.Duration("timeout", 5*time.Second, "per-request timeout")
	retryFor := flag.Duration("retry-for", 0, "keep retrying until this much time has passed")
	expectStatus := flag.Int("expect-status", 200, "required HTTP status (0: any)")
	expectBody := flag.String("expect-body", "", "required substring of the body")
	bearer := flag.String("bearer-file", "", "file holding a bearer token")
	sleep := flag.Duration("sleep", 0, "with no URL: sleep this long (0: forever)")
	lookup := flag.String("lookup", "", "with no URL: resolve this name and print its addresses")
	dial := flag.String("dial", "", "with no URL: open a TCP connection to this HOST:PORT")
	flag.Parse()
	if flag.NArg() == 0 && *dial != "" {
		conn, err := net.DialTimeout("tcp", *dial, *timeout)
		if err != nil {
			fail("%v", err)
		}
		conn.Close()
		fmt.Println("connected")
		return
	}
	if flag.NArg() == 0 && *lookup != "" {
		deadline := time.Now().Add(*retryFor)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), *timeout)
			addrs, err := net.DefaultResolver.LookupHost(ctx, *lookup)
			cancel()
			if err == nil {
				fmt.Println(strings.Join(addrs, "\n"))
				return
			}
			if time.Now().After(deadline) {
				fail("%v", err)
			}
			fmt.Fprintf(os.Stderr, "probe: %v (retrying)\n", err)
			time.Sleep(500 * time.Millisecond)
		}
	}
	if flag.NArg() != 1 {
		if flag.NArg() == 0 && isFlagSet("sleep") {
			for *sleep == 0 { // (a bare `select {}` is a deadlock the runtime kills)
				time.Sleep(time.Hour)
			}
			time.Sleep(*sleep)
			return
		}
		fmt.Fprintln(os.Stderr, "usage: probe [flags] URL")
		os.Exit(2)
	}
	url := flag.Arg(0)

	tlsConf := &tls.Config{InsecureSkipVerify: *insecure}
	if *cacert != "" {
		pem, err := os.ReadFile(*cacert)
		check(err)
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fail("no certificates in %s", *cacert)
		}
		tlsConf.RootCAs = pool
	}
	if *cert != "" {
		kp, err := tls.LoadX509KeyPair(*cert, *key)
		check(err)
		tlsConf.Certificates = []tls.Certificate{kp}
	}
	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{TLSClientConfig: tlsConf, Proxy: nil}}

	deadline := time.Now().Add(*retryFor)
	for {
		err := once(client, url, *bearer, *expectStatus, *expectBody)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			fail("%v", err)
		}
		fmt.Fprintf(os.Stderr, "probe: %v (retrying)\n", err)
		time.Sleep(500 * time.Millisecond)
	}
}

func once(c *http.Client, url, bearerFile string, wantStatus int, wantBody string) error {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if bearerFile != "" {
		tok, err := os.ReadFile(bearerFile)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	fmt.Printf("%s\n%s\n", resp.Status, body)
	if wantStatus != 0 && resp.StatusCode != wantStatus {
		return fmt.Errorf("%s: status %d, want %d", url, resp.StatusCode, wantStatus)
	}
	if wantBody != "" && !strings.Contains(string(body), wantBody) {
		return fmt.Errorf("%s: body lacks %q", url, wantBody)
	}
	return nil
}

func isFlagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func check(err error) {
	if err != nil {
		fail("%v", err)
	}
}

func fail(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "probe: "+format+"\n", a...)
	os.Exit(1)
}
