package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// The subset of core/v1 Service and discovery.k8s.io/v1 EndpointSlice we read.

type meta struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Labels    map[string]string `json:"labels"`
}

type service struct {
	Metadata meta `json:"metadata"`
	Spec     struct {
		Type                     string   `json:"type"`
		ClusterIP                string   `json:"clusterIP"`
		ClusterIPs               []string `json:"clusterIPs"`
		PublishNotReadyAddresses bool     `json:"publishNotReadyAddresses"`
	} `json:"spec"`
}

type endpointSlice struct {
	Metadata    meta   `json:"metadata"`
	AddressType string `json:"addressType"`
	Endpoints   []struct {
		Addresses  []string `json:"addresses"`
		Hostname   string   `json:"hostname"`
		Conditions struct {
			Ready *bool `json:"ready"`
		} `json:"conditions"`
	} `json:"endpoints"`
}

const serviceNameLabel = "kubernetes.io/service-name"

// records: the zone's names (lower case, no trailing dot) and their A records. A name
// present with no addresses exists but has no A record (NOERROR, empty answer).
type records map[string][]net.IP

func (r records) add(name string, ips ...net.IP) {
	name = strings.ToLower(name)
	r[name] = append(r[name], ips...)
}

// buildRecords turns Services and EndpointSlices into the zone's records:
//
//	<svc>.<ns>.svc.<zone>             ClusterIP(s); headless: the endpoint addresses
//	<hostname>.<svc>.<ns>.svc.<zone>  headless only: the endpoint with that hostname
//
// Endpoints count when ready (a missing condition means ready), or always when the
// Service sets publishNotReadyAddresses. Every ancestor of a name (<ns>.svc.<zone>, ...)
// exists too, with no records.
func buildRecords(zone string, svcs []service, slices []endpointSlice) records {
	r := records{}
	type key struct{ ns, name string }
	bySvc := map[key]*service{}
	for i := range svcs {
		s := &svcs[i]
		bySvc[key{s.Metadata.Namespace, s.Metadata.Name}] = s
	}
	for _, s := range svcs {
		name := s.Metadata.Name + "." + s.Metadata.Namespace + ".svc." + zone
		r.add(name)
		if s.Spec.ClusterIP == "None" || s.Spec.Type == "ExternalName" {
			continue
		}
		ips := s.Spec.ClusterIPs
		if len(ips) == 0 && s.Spec.ClusterIP != "" {
			ips = []string{s.Spec.ClusterIP}
		}
		for _, a := range ips {
			if ip := net.ParseIP(a).To4(); ip != nil {
				r.add(name, ip)
			}
		}
	}
	for _, sl := range slices {
		s := bySvc[key{sl.Metadata.Namespace, sl.Metadata.Labels[serviceNameLabel]}]
		if s == nil || s.Spec.ClusterIP != "None" || sl.AddressType != "IPv4" {
			continue
		}
		svcName := s.Metadata.Name + "." + s.Metadata.Namespace + ".svc." + zone
		for _, ep := range sl.Endpoints {
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			if !ready && !s.Spec.PublishNotReadyAddresses {
				continue
			}
			for _, a := range ep.Addresses {
				ip := net.ParseIP(a).To4()
				if ip == nil {
					continue
				}
				r.add(svcName, ip)
				if ep.Hostname != "" {
					r.add(ep.Hostname+"."+svcName, ip)
				}
			}
		}
	}
	for name := range r {
		for n := name; n != zone; {
			i := strings.IndexByte(n, '.')
			if i < 0 {
				break
			}
			n = n[i+1:]
			if _, ok := r[n]; !ok {
				r[n] = nil
			}
		}
	}
	dedupe(r)
	return r
}

func dedupe(r records) {
	for name, ips := range r {
		seen := map[string]bool{}
		out := ips[:0]
		for _, ip := range ips {
			if !seen[ip.String()] {
				seen[ip.String()] = true
				out = append(out, ip)
			}
		}
		r[name] = out
	}
}

// kubeClient lists objects from the apiserver with a client certificate.
type kubeClient struct {
	server string
	http   *http.Client
}

func newKubeClient(server, caFile, certFile, keyFile string) (*kubeClient, error) {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificates in %s", caFile)
	}
	conf := &tls.Config{RootCAs: pool}
	if certFile != "" {
		kp, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		conf.Certificates = []tls.Certificate{kp}
	}
	return &kubeClient{server: strings.TrimRight(server, "/"), http: &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: conf, Proxy: nil},
	}}, nil
}

// list GETs a collection (resourceVersion=0: served from the apiserver's cache) into out,
// a pointer to a slice of items.
func (c *kubeClient) list(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.server+path+"?resourceVersion=0", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	var l struct {
		Items json.RawMessage `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if len(l.Items) == 0 || string(l.Items) == "null" {
		return nil
	}
	return json.Unmarshal(l.Items, out)
}

// fetch reads every Service and EndpointSlice and builds the zone's records.
func (c *kubeClient) fetch(ctx context.Context, zone string) (records, error) {
	var svcs []service
	if err := c.list(ctx, "/api/v1/services", &svcs); err != nil {
		return nil, err
	}
	var slices []endpointSlice
	if err := c.list(ctx, "/apis/discovery.k8s.io/v1/endpointslices", &slices); err != nil {
		return nil, err
	}
	return buildRecords(zone, svcs, slices), nil
}
