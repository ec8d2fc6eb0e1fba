package localstack

import (
	"encoding/xml"
	"io"
	"net/http"
	"strings"
)

// The bucket's notification configuration, as S3's GetBucketNotificationConfiguration
// and PutBucketNotificationConfiguration serve it: the notifier's triggers. The
// template's S3 event sources are the configuration the stack starts with;
// putting another one (an empty one: the trigger no longer hears of uploads)
// changes which creations become events, as it does in S3.

const s3Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

type notificationXML struct {
	XMLName   xml.Name              `xml:"NotificationConfiguration"`
	Xmlns     string                `xml:"xmlns,attr,omitempty"`
	Functions []functionNotifyXML   `xml:"CloudFunctionConfiguration"`
	Queues    []struct{ Id string } `xml:"QueueConfiguration"`
	Topics    []struct{ Id string } `xml:"TopicConfiguration"`
}

type functionNotifyXML struct {
	Id            string          `xml:"Id,omitempty"`
	CloudFunction string          `xml:"CloudFunction"`
	Events        []string        `xml:"Event"`
	Rules         []filterRuleXML `xml:"Filter>S3Key>FilterRule,omitempty"`
}

type filterRuleXML struct {
	Name  string `xml:"Name"`
	Value string `xml:"Value"`
}

func (n *notifier) notificationConfiguration(w http.ResponseWriter, r *http.Request) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if key != "" || bucket == "" {
		s3Error(w, http.StatusBadRequest, "InvalidRequest", "a notification configuration belongs to a bucket")
		return
	}
	if ok, err := n.backend.BucketExists(bucket); err != nil || !ok {
		s3Error(w, http.StatusNotFound, "NoSuchBucket", "The specified bucket does not exist")
		return
	}
	switch r.Method {
	case http.MethodGet:
		out := notificationXML{Xmlns: s3Namespace}
		n.triggersMu.Lock()
		for _, t := range n.triggers {
			if t.bucket != bucket {
				continue
			}
			f := functionNotifyXML{Id: t.configurationID, CloudFunction: t.function, Events: t.events}
			if t.prefix != "" {
				f.Rules = append(f.Rules, filterRuleXML{"Prefix", t.prefix})
			}
			if t.suffix != "" {
				f.Rules = append(f.Rules, filterRuleXML{"Suffix", t.suffix})
			}
			out.Functions = append(out.Functions, f)
		}
		n.triggersMu.Unlock()
		writeXML(w, http.StatusOK, out)
	case http.MethodPut:
		body, err := io.ReadAll(r.Body)
		var in notificationXML
		if err == nil {
			err = xml.Unmarshal(body, &in)
		}
		if err != nil {
			s3Error(w, http.StatusBadRequest, "MalformedXML", "The XML you provided was not well-formed: "+err.Error())
			return
		}
		if len(in.Queues)+len(in.Topics) > 0 {
			s3Error(w, http.StatusNotImplemented, "NotImplemented", "the local stack notifies functions only")
			return
		}
		var keep []s3Trigger
		n.triggersMu.Lock()
		for _, t := range n.triggers {
			if t.bucket != bucket {
				keep = append(keep, t)
			}
		}
		for _, f := range in.Functions {
			t := s3Trigger{configurationID: f.Id, function: f.CloudFunction, bucket: bucket, events: f.Events}
			for _, rule := range f.Rules {
				switch strings.ToLower(rule.Name) {
				case "prefix":
					t.prefix = rule.Value
				case "suffix":
					t.suffix = rule.Value
				}
			}
			keep = append(keep, t)
		}
		n.triggers = keep
		n.triggersMu.Unlock()
		w.WriteHeader(http.StatusOK)
	default:
		s3Error(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The specified method is not allowed against this resource.")
	}
}

type s3ErrorXML struct {
	XMLName xml.Name `xml:"Error"`
	Code    string   `xml:"Code"`
	Message string   `xml:"Message"`
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	writeXML(w, status, s3ErrorXML{Code: code, Message: msg})
}
