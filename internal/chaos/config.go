package chaos

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// Retry settings of the handlers' clients under chaos. The SDK's default of 3
// attempts gives up on one call in 125 at throttle=0.2, and its 1 s base delay
// for throttling errors would make a chaotic run crawl; retries stay the
// SDK's standard retryer, only with more attempts, a short backoff and no
// retry quota (the quota is shared by every call of a client, and a run
// under heavy chaos drains it).
const (
	MaxAttempts = 10
	baseBackoff = 10 * time.Millisecond
	maxBackoff  = 400 * time.Millisecond
)

// AWSConfig returns cfg for the handlers of a chaotic run: every request goes
// through the crash transport, DynamoDB goes to the proxy at dynamoURL, and
// the retryer is the standard one with the settings above.
func (c *Chaos) AWSConfig(cfg aws.Config, dynamoURL string) aws.Config {
	cfg = cfg.Copy()
	cfg.HTTPClient = &http.Client{Transport: &transport{base: awshttp.NewBuildableClient().GetTransport()}}
	cfg.Retryer = func() aws.Retryer { return c.retryer() }
	// Endpoint sources are asked in order, so this one wins for DynamoDB and
	// leaves the other services to the sources after it.
	cfg.ConfigSources = append([]any{dynamoEndpoint(dynamoURL)}, cfg.ConfigSources...)
	return cfg
}

func (c *Chaos) retryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = MaxAttempts
		o.RateLimiter = ratelimit.None
		o.Backoff = retry.BackoffDelayerFunc(func(attempt int, _ error) (time.Duration, error) {
			d := min(baseBackoff<<min(attempt, 16), maxBackoff)
			return time.Duration(c.rng.intN(int(d))) + time.Millisecond, nil
		})
	})
}

// dynamoEndpoint points DynamoDB clients at the proxy, as
// AWS_ENDPOINT_URL_DYNAMODB would.
type dynamoEndpoint string

func (ep dynamoEndpoint) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	return string(ep), sdkID == "DynamoDB" && ep != "", nil
}
