// Package exporttest builds a realistic Amazon Pinpoint export for tests: gzip
// NDJSON objects of EndpointResponse lines carrying every field the API reference
// documents (export-only ones included), two-letter countries, several endpoints
// per user with diverging user attributes, inactive and opted-out endpoints and
// endpoints without an address. Expected says what importing it must give,
// computed from the same responses without segport's decoder.
package exporttest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/segport/segport/pkg/endpoint"
)

// Response is Pinpoint's EndpointResponse, in the API reference's member order.
type Response struct {
	Address        string              `json:"Address,omitempty"`
	ApplicationId  string              `json:"ApplicationId"`
	Attributes     map[string][]string `json:"Attributes"`
	ChannelType    string              `json:"ChannelType"`
	CohortId       string              `json:"CohortId"`
	CreationDate   string              `json:"CreationDate"`
	Demographic    *Demographic        `json:"Demographic,omitempty"`
	EffectiveDate  string              `json:"EffectiveDate"`
	EndpointStatus string              `json:"EndpointStatus"`
	Id             string              `json:"Id"`
	Location       *Location           `json:"Location,omitempty"`
	Metrics        map[string]float64  `json:"Metrics"`
	OptOut         string              `json:"OptOut"`
	RequestId      string              `json:"RequestId"`
	User           *User               `json:"User,omitempty"`
}

// Demographic is EndpointDemographic.
type Demographic struct {
	AppVersion      string `json:"AppVersion,omitempty"`
	Locale          string `json:"Locale,omitempty"`
	Make            string `json:"Make,omitempty"`
	Model           string `json:"Model,omitempty"`
	ModelVersion    string `json:"ModelVersion,omitempty"`
	Platform        string `json:"Platform,omitempty"`
	PlatformVersion string `json:"PlatformVersion,omitempty"`
	Timezone        string `json:"Timezone,omitempty"`
}

// Location is EndpointLocation; Country is alpha-2, as exports show it.
type Location struct {
	City       string   `json:"City,omitempty"`
	Country    string   `json:"Country,omitempty"`
	Latitude   *float64 `json:"Latitude,omitempty"`
	Longitude  *float64 `json:"Longitude,omitempty"`
	PostalCode string   `json:"PostalCode,omitempty"`
	Region     string   `json:"Region,omitempty"`
}

// User is EndpointUser.
type User struct {
	UserAttributes map[string][]string `json:"UserAttributes,omitempty"`
	UserId         string              `json:"UserId,omitempty"`
}

// ApplicationId is the Pinpoint project the export comes from.
const ApplicationId = "7b2d0f5e9c8a4e1b8f3a6c5d4e2f1a0b"

func f(v float64) *float64 { return &v }

func list(v ...string) []string { return v }

// Responses returns the export's endpoints, in export order.
func Responses() []Response {
	seattle := &Location{City: "Seattle", Country: "US", Latitude: f(47.6), Longitude: f(-122.3), PostalCode: "98101", Region: "WA"}
	iphone := &Demographic{AppVersion: "3.2.1", Locale: "en_US", Make: "Apple", Model: "iPhone", ModelVersion: "15",
		Platform: "ios", PlatformVersion: "17.4", Timezone: "America/Los_Angeles"}
	rs := []Response{
		// user-ana: three endpoints whose user attributes diverge; the latest
		// EffectiveDate of each attribute must win, whatever the line order.
		{Id: "ana-sms", ChannelType: "SMS", Address: "+12065550182", EndpointStatus: "INACTIVE", OptOut: "NONE",
			EffectiveDate: "2024-05-10T18:02:11.000Z", CreationDate: "2022-11-02T08:00:00.000Z",
			Location: seattle, Demographic: iphone,
			Attributes: map[string][]string{"interests": list("cycling", "jazz")}, Metrics: map[string]float64{"sessions": 42},
			User: &User{UserId: "user-ana", UserAttributes: map[string][]string{"Plan": list("pro"), "LastName": list("Silva")}}},
		{Id: "ana-email", ChannelType: "EMAIL", Address: "ana.silva@example.com", EndpointStatus: "ACTIVE", OptOut: "NONE",
			EffectiveDate: "2024-03-01T10:15:30.123Z", CreationDate: "2022-11-02T08:00:01.250Z",
			Location: seattle, Demographic: iphone,
			Attributes: map[string][]string{"interests": list("cycling", "jazz"), "tier": list("gold")},
			Metrics:    map[string]float64{"sessions": 42, "cart_value": 89.5},
			User:       &User{UserId: "user-ana", UserAttributes: map[string][]string{"FirstName": list("Ana"), "Plan": list("free")}}},
		{Id: "ana-apns", ChannelType: "APNS", Address: "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b",
			EndpointStatus: "ACTIVE", OptOut: "ALL",
			EffectiveDate: "2023-11-20T07:45:00.000Z", CreationDate: "2023-01-15T12:30:00.000Z",
			Location: seattle, Demographic: iphone, Attributes: map[string][]string{}, Metrics: map[string]float64{},
			User: &User{UserId: "user-ana", UserAttributes: map[string][]string{"FirstName": list("Anna"), "Plan": list("trial")}}},
		// user-bo: two endpoints with the same user attributes.
		{Id: "bo-email", ChannelType: "EMAIL", Address: "bo.lindqvist@example.se", EndpointStatus: "ACTIVE", OptOut: "NONE",
			EffectiveDate: "2024-02-02T09:00:00.000Z", CreationDate: "2021-06-30T23:59:59.999Z",
			Location:    &Location{City: "Stockholm", Country: "SE", Latitude: f(59.3), Longitude: f(18.1), PostalCode: "111 52"},
			Demographic: &Demographic{Locale: "sv_SE", Timezone: "Europe/Stockholm"},
			Attributes:  map[string][]string{"tier": list("silver")}, Metrics: map[string]float64{},
			User: &User{UserId: "user-bo", UserAttributes: map[string][]string{"FirstName": list("Bo"), "Plan": list("pro")}}},
		{Id: "bo-gcm", ChannelType: "GCM", Address: "dXNlci1iby1nY206QVBBOTFiRnRzZ2hrbG1ub3BxcnN0dXZ3eHl6MDEyMzQ1Njc4OQ",
			EndpointStatus: "ACTIVE", OptOut: "NONE",
			EffectiveDate: "2024-02-03T10:11:12.000Z", CreationDate: "2021-07-01T00:00:00.000Z",
			Location: &Location{City: "Stockholm", Country: "SE"},
			Demographic: &Demographic{AppVersion: "3.1.0", Locale: "sv_SE", Make: "samsung", Model: "SM-S911B",
				Platform: "android", PlatformVersion: "14", Timezone: "Europe/Stockholm"},
			Attributes: map[string][]string{}, Metrics: map[string]float64{"sessions": 7},
			User: &User{UserId: "user-bo", UserAttributes: map[string][]string{"FirstName": list("Bo"), "Plan": list("pro")}}},
		// Channels without an address: the exported Id identifies the endpoint.
		{Id: "chen-in-app", ChannelType: "IN_APP", EndpointStatus: "ACTIVE", OptOut: "NONE",
			EffectiveDate: "2024-04-04T04:04:04.000Z", CreationDate: "2024-01-01T00:00:00.000Z",
			Location:    &Location{City: "上海", Country: "CN", Latitude: f(31.2), Longitude: f(121.5)},
			Demographic: &Demographic{Locale: "zh_CN", Platform: "android", Timezone: "Asia/Shanghai"},
			Attributes:  map[string][]string{}, Metrics: map[string]float64{},
			User: &User{UserId: "user-chen", UserAttributes: map[string][]string{"FirstName": list("陈")}}},
		{Id: "custom-webhook-17", ChannelType: "CUSTOM", EndpointStatus: "ACTIVE", OptOut: "NONE",
			EffectiveDate: "2024-04-05T00:00:00.000Z", CreationDate: "2024-04-05T00:00:00.000Z",
			Location:   &Location{Country: "JP"},
			Attributes: map[string][]string{}, Metrics: map[string]float64{}, User: &User{}},
		// Inactive and opted out at once.
		{Id: "dara-voice", ChannelType: "VOICE", Address: "+442071838750", EndpointStatus: "INACTIVE", OptOut: "ALL",
			EffectiveDate: "2023-08-08T08:08:08.000Z", CreationDate: "2020-02-29T12:00:00.000Z",
			Location:   &Location{City: "London", Country: "GB", Latitude: f(51.5), Longitude: f(-0.1), PostalCode: "EC1A 1BB", Region: "England"},
			Attributes: map[string][]string{}, Metrics: map[string]float64{},
			User: &User{UserId: "user-dara", UserAttributes: map[string][]string{"FirstName": list("Dara")}}},
		// No user at all.
		{Id: "eve-email", ChannelType: "EMAIL", Address: "eve@example.de", EndpointStatus: "ACTIVE", OptOut: "NONE",
			EffectiveDate: "2024-01-31T23:00:00.000Z", CreationDate: "2024-01-31T23:00:00.000Z",
			Location:   &Location{City: "Berlin", Country: "DE", Latitude: f(52.5), Longitude: f(13.4), PostalCode: "10115"},
			Attributes: map[string][]string{"newsletter": list("weekly")}, Metrics: map[string]float64{}},
		{Id: "fay-sms", ChannelType: "SMS", Address: "+5511987654321", EndpointStatus: "ACTIVE", OptOut: "NONE",
			EffectiveDate: "2024-06-01T12:00:00.000Z", CreationDate: "2023-12-24T18:30:00.000Z",
			Location:    &Location{City: "São Paulo", Country: "BR", Latitude: f(-23.6), Longitude: f(-46.6), Region: "SP"},
			Demographic: &Demographic{Locale: "pt_BR", Timezone: "America/Sao_Paulo"},
			Attributes:  map[string][]string{"interests": list("futebol")}, Metrics: map[string]float64{"balance": -12.25},
			User: &User{UserId: "user-fay", UserAttributes: map[string][]string{"FirstName": list("Fátima"), "Plan": list("free")}}},
		{Id: "gus-apns-sandbox", ChannelType: "APNS_SANDBOX", Address: "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0",
			EndpointStatus: "ACTIVE", OptOut: "NONE",
			EffectiveDate: "2024-03-15T15:15:15.000Z", CreationDate: "2024-03-15T15:15:15.000Z",
			Location:    &Location{City: "Toronto", Country: "CA", Latitude: f(43.7), Longitude: f(-79.4), PostalCode: "M5H 2N2", Region: "ON"},
			Demographic: &Demographic{Make: "Apple", Model: "iPad", Platform: "ios", PlatformVersion: "17.2", Timezone: "America/Toronto"},
			Attributes:  map[string][]string{}, Metrics: map[string]float64{},
			User: &User{UserId: "user-gus"}},
		{Id: "hana-email", ChannelType: "EMAIL", Address: "hana@example.jp", EndpointStatus: "ACTIVE", OptOut: "NONE",
			EffectiveDate: "2024-02-29T00:00:00.000Z", CreationDate: "2022-02-22T22:22:22.222Z",
			Location:    &Location{City: "Tokyo", Country: "JP", Latitude: f(35.7), Longitude: f(139.7)},
			Demographic: &Demographic{Locale: "ja_JP", Timezone: "Asia/Tokyo"},
			Attributes:  map[string][]string{"tier": list("gold")}, Metrics: map[string]float64{"cart_value": 0},
			User: &User{UserId: "user-hana", UserAttributes: map[string][]string{"FirstName": list("Hana"), "LastName": list("Sato")}}},
		{Id: "ivan-adm", ChannelType: "ADM", Address: "amzn1.adm-registration.v3.Y29tLmFtYXpvbi5EZXZpY2VNZXNzYWdpbmcuUmVnaXN0cmF0aW9uSWQ",
			EndpointStatus: "ACTIVE", OptOut: "NONE",
			EffectiveDate: "2023-10-10T10:10:10.000Z", CreationDate: "2023-10-10T10:10:10.000Z",
			Location:   &Location{City: "Bengaluru", Country: "IN"},
			Attributes: map[string][]string{}, Metrics: map[string]float64{}},
		{Id: "jo-baidu", ChannelType: "BAIDU", Address: "3785964192853761234", EndpointStatus: "ACTIVE", OptOut: "ALL",
			EffectiveDate: "2023-09-09T09:09:09.000Z", CreationDate: "2023-09-09T09:09:09.000Z",
			Location:   &Location{Country: "CN"},
			Attributes: map[string][]string{}, Metrics: map[string]float64{},
			User: &User{UserId: "user-jo"}},
	}
	for i := range rs {
		rs[i].ApplicationId = ApplicationId
		rs[i].CohortId = fmt.Sprint((i*37 + 11) % 100)
		rs[i].RequestId = fmt.Sprintf("%08x-0ef4-4cdc-8e7d-%012x", 0xc1aeb2ac+i, 0xa1a7b2f3a4e5+i)
	}
	return rs
}

// Line is one response as an export line, without its newline.
func Line(r Response) []byte {
	b, err := json.Marshal(r)
	if err != nil {
		panic(err) // a Response always marshals
	}
	return b
}

// Write writes the export into dir as parts gzip-compressed NDJSON objects,
// part-00000.gz and so on, the responses in order, and returns their paths.
func Write(dir string, parts int) ([]string, error) {
	rs := Responses()
	per := (len(rs) + parts - 1) / parts
	var paths []string
	for p := 0; p*per < len(rs); p++ {
		path := filepath.Join(dir, fmt.Sprintf("part-%05d.gz", p))
		if err := WriteFile(path, rs[p*per:min(len(rs), (p+1)*per)], true); err != nil {
			return nil, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// WriteFile writes responses as one export object, gzip-compressed or not.
func WriteFile(path string, rs []Response, gzipped bool) error {
	var buf bytes.Buffer
	for _, r := range rs {
		buf.Write(Line(r))
		buf.WriteByte('\n')
	}
	if gzipped {
		var z bytes.Buffer
		zw := gzip.NewWriter(&z)
		zw.Write(buf.Bytes())
		if err := zw.Close(); err != nil {
			return err
		}
		buf = z
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// alpha3 holds the countries of the export, converted by hand.
var alpha3 = map[string]string{
	"US": "USA", "SE": "SWE", "CN": "CHN", "JP": "JPN", "GB": "GBR", "DE": "DEU", "BR": "BRA", "CA": "CAN", "IN": "IND",
}

// Users returns each user's attributes as the import must merge them: for every
// attribute, the value of the endpoint with the latest EffectiveDate.
func Users() map[string]map[string][]string {
	rs := Responses()
	order := make([]int, len(rs))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rs[order[a]].EffectiveDate < rs[order[b]].EffectiveDate })
	users := map[string]map[string][]string{}
	for _, i := range order {
		u := rs[i].User
		if u == nil || u.UserId == "" || len(u.UserAttributes) == 0 {
			continue
		}
		if users[u.UserId] == nil {
			users[u.UserId] = map[string][]string{}
		}
		for k, v := range u.UserAttributes {
			users[u.UserId][k] = v
		}
	}
	return users
}

// Expected returns the endpoints importing the export must give, as canonical
// JSON sorted by Id, each with its user's merged attributes: the exported values
// unchanged but for the alpha-3 countries.
func Expected() []string {
	users := Users()
	var out []string
	for _, r := range Responses() {
		e := &endpoint.Endpoint{
			Id: r.Id, ChannelType: r.ChannelType, Address: r.Address, EndpointStatus: r.EndpointStatus, OptOut: r.OptOut,
			EffectiveDate: r.EffectiveDate, CreationDate: r.CreationDate, RequestId: r.RequestId,
		}
		if l := r.Location; l != nil {
			e.Location = &endpoint.Location{City: l.City, Country: alpha3[l.Country], Latitude: l.Latitude, Longitude: l.Longitude,
				PostalCode: l.PostalCode, Region: l.Region}
		}
		if d := r.Demographic; d != nil {
			c := endpoint.Demographic(*d)
			e.Demographic = &c
		}
		e.Attributes, e.Metrics = endpoint.CustomOf(r.Attributes), endpoint.CustomOf(r.Metrics)
		if r.User != nil && r.User.UserId != "" {
			e.User = &endpoint.User{UserId: r.User.UserId, UserAttributes: endpoint.CustomOf(users[r.User.UserId])}
		}
		b, err := e.MarshalCanonical()
		if err != nil {
			panic(err)
		}
		out = append(out, string(b))
	}
	sort.Strings(out)
	return out
}
