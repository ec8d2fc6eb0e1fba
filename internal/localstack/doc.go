// Package localstack runs the embedded local AWS stack that tests, the CLI
// and `segport dev` use instead of an AWS account: gofakes3 in process for
// S3 (objects as files under DataDir/s3), and two pinned npm emulators as
// child processes, fauxqs for SQS and dynalite for DynamoDB (LevelDB under
// DataDir/dynamo). fauxqs and dynalite listen on unix sockets in a private
// folder; each emulator is served on 127.0.0.1, on an OS-chosen port, behind
// a guard (front.go) that verifies every request's SigV4 signature with the
// data folder's credentials (credentials.json) and sends no CORS headers.
//
// Start provisions the bucket, queues and tables of template.yaml, resolves
// the functions' environment to local values, turns object creations under
// the template's S3 filter into S3 events (OnObjectCreated) and emulates
// Lambda's SQS event-source mapping (StartMapping). Attach connects to a
// stack another process runs on the same DataDir.
//
// Local names: the bucket is "segport", queues and tables are named by their
// logical ids, queue URLs are http://127.0.0.1:PORT/000000000000/<Name>,
// the account is 000000000000 and the region us-east-1.
//
// What the emulators do, checked by this package's tests with the
// aws-sdk-go-v2 clients:
//
//   - fauxqs 1.9.2 (SQS JSON protocol): SendMessage, SendMessageBatch,
//     ReceiveMessage with MessageSystemAttributeNames (ApproximateReceiveCount,
//     SentTimestamp, ApproximateFirstReceiveTimestamp), DeleteMessageBatch,
//     ChangeMessageVisibility, GetQueueAttributes counts. It implements
//     RedrivePolicy itself, as SQS does: a message received more than
//     maxReceiveCount times moves to the dead-letter queue on the next
//     receive, so the mapping needs no emulation of it.
//     Not there: ListDeadLetterSourceQueues, message move tasks,
//     AddPermission; SqsManagedSseEnabled is not a settable attribute (the
//     stack leaves it out). State is in memory only: queues are recreated
//     by every Start and messages do not survive a restart. A long poll
//     whose client went away still takes messages when they arrive (they
//     then stay in flight for a visibility timeout), which is why the
//     mapping long-polls for one second at a time.
//   - dynalite 4.0.0: CreateTable with global and local secondary indexes,
//     PAY_PER_REQUEST, PutItem with ConditionExpression
//     (ConditionalCheckFailedException), UpdateItem with ADD on string and
//     number sets and ReturnValues ALL_NEW, BatchWriteItem, BatchGetItem with
//     ConsistentRead, Query with Select COUNT (table and index). Not there:
//     TransactWriteItems, TransactGetItems, ExecuteStatement (PartiQL),
//     UpdateTimeToLive and streams (UnknownOperationException).
//   - gofakes3 1.2.0 (s3afero backend): PutObject, GetObject with ranges,
//     HeadObject, ListObjectsV2 with a prefix, CopyObject and multipart
//     uploads. The SDK signs payloads over plain HTTP, so request bodies
//     must be seekable (the SDK says so before sending anything).
//     gofakes3 has no UploadPartCopy and completes uploads with parts
//     under 5 MiB; the stack's S3 front (s3parts.go) serves UploadPartCopy
//     (whole object or x-amz-copy-source-range) and answers EntityTooSmall
//     as S3 does. Multipart parts are held in memory until completed.
//
// The control plane (control.go, alarms.go, notifyconfig.go) serves, on one
// more port, what the CLI's --aws mode and segport doctor read of a deployed
// stack: CloudFormation DescribeStacks (the template's outputs resolved
// locally), Lambda event-source mappings (disabling one pauses it), event
// invoke config and Invoke (Options.Invokers), CloudWatch DescribeAlarms, and
// on the S3 port the bucket's notification configuration (the notifier's
// triggers, replaceable with PutBucketNotificationConfiguration). An S3 event
// the handler fails on every attempt goes to its function's on-failure
// destination, as Lambda's asynchronous invocation sends it. The control
// plane's port has the emulators' guard: a request must be signed with the
// data folder's credentials for the service its path belongs to
// (cloudformation, lambda, or monitoring for CloudWatch).
//
// Emulator installs: Start writes node/package.json, node/package-lock.json
// and the launcher into NodeDir and runs `npm ci` there when node_modules is
// missing or came from another lock. Node.js 20+ and npm must be on PATH.
package localstack
