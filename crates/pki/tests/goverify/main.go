// goverify checks tcpc-pki output with Go's crypto/x509 and crypto/tls, the
// libraries kube-apiserver and client-go use. Standard library only.
//
// Each line of the manifest file (argument 1) is one check, fields separated
// by a single space:
//
//	chain <roots.pem> <intermediates.pem|-> <leaf.pem> <server|client|any> <unix-time> [dns-or-ip]
//	keypair <cert.pem> <key.pem>
//	pubkey <pub.pem> <key.pem>
//
// Exit status 0 when every check passes; failures are printed one per line.
package main

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	return out, nil
}

func pool(path string) (*x509.CertPool, error) {
	p := x509.NewCertPool()
	if path == "-" {
		return p, nil
	}
	cs, err := readCerts(path)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		p.AddCert(c)
	}
	return p, nil
}

func chain(f []string) error {
	if len(f) < 5 {
		return fmt.Errorf("chain needs 5+ fields")
	}
	roots, err := pool(f[0])
	if err != nil {
		return err
	}
	inter, err := pool(f[1])
	if err != nil {
		return err
	}
	leaves, err := readCerts(f[2])
	if err != nil {
		return err
	}
	var usages []x509.ExtKeyUsage
	switch f[3] {
	case "server":
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	case "client":
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case "any":
		usages = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	default:
		return fmt.Errorf("unknown usage %q", f[3])
	}
	secs, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil {
		return err
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: usages, CurrentTime: time.Unix(secs, 0)}
	if _, err := leaves[0].Verify(opts); err != nil {
		return fmt.Errorf("verify %s: %w", f[2], err)
	}
	if len(f) > 5 {
		if err := leaves[0].VerifyHostname(f[5]); err != nil {
			return fmt.Errorf("hostname %s: %w", f[2], err)
		}
		if ip := net.ParseIP(f[5]); ip == nil && strings.Contains(f[5], ":") {
			return fmt.Errorf("bad host %q", f[5])
		}
	}
	return nil
}

func keypair(f []string) error {
	if len(f) != 2 {
		return fmt.Errorf("keypair needs 2 fields")
	}
	c, err := os.ReadFile(f[0])
	if err != nil {
		return err
	}
	k, err := os.ReadFile(f[1])
	if err != nil {
		return err
	}
	if _, err := tls.X509KeyPair(c, k); err != nil {
		return fmt.Errorf("X509KeyPair %s %s: %w", f[0], f[1], err)
	}
	return nil
}

func parseKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("%s: no PEM", path)
	}
	switch b.Type {
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(b.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
		if err != nil {
			return nil, err
		}
		return k.(crypto.Signer), nil
	}
	return nil, fmt.Errorf("%s: unexpected PEM type %q", path, b.Type)
}

type equaler interface{ Equal(crypto.PublicKey) bool }

func pubkey(f []string) error {
	if len(f) != 2 {
		return fmt.Errorf("pubkey needs 2 fields")
	}
	data, err := os.ReadFile(f[0])
	if err != nil {
		return err
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PUBLIC KEY" {
		return fmt.Errorf("%s: want PUBLIC KEY PEM", f[0])
	}
	pub, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return err
	}
	switch pub.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
	default:
		return fmt.Errorf("%s: unexpected key type %T", f[0], pub)
	}
	k, err := parseKey(f[1])
	if err != nil {
		return err
	}
	if !pub.(equaler).Equal(k.Public()) {
		return fmt.Errorf("%s does not match %s", f[0], f[1])
	}
	return nil
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: goverify <manifest>")
		os.Exit(2)
	}
	fh, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer fh.Close()
	failed, n := 0, 0
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		n++
		var err error
		switch f[0] {
		case "chain":
			err = chain(f[1:])
		case "keypair":
			err = keypair(f[1:])
		case "pubkey":
			err = pubkey(f[1:])
		default:
			err = fmt.Errorf("unknown check %q", f[0])
		}
		if err != nil {
			failed++
			fmt.Println("FAIL", line, ":", err)
		}
	}
	fmt.Printf("%d checks, %d failed\n", n, failed)
	if failed > 0 {
		os.Exit(1)
	}
}
