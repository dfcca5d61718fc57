package stack

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.yaml.in/yaml/v3"
)

const queueType = "AWS::SQS::Queue"

// queue is one AWS::SQS::Queue resource: its attributes, and the logical id
// of its dead-letter queue when it has a redrive policy.
type queue struct {
	attributes      map[string]string
	deadLetterQueue string
	maxReceiveCount int
}

// Queue is a queue CreateQueues made.
type Queue struct {
	URL string
	ARN string
}

// CreateQueues creates the template's SQS queues under the given names
// (logical id -> physical name) with the template's visibility timeout,
// retention and redrive policy, dead-letter queues first, and returns them by
// logical id. Creating an existing queue with the same attributes is a no-op
// in SQS, so a restart against the same endpoint works.
func CreateQueues(ctx context.Context, client *sqs.Client, templatePath string, names map[string]string) (map[string]Queue, error) {
	queues, err := readQueues(templatePath)
	if err != nil {
		return nil, err
	}
	ids := slices.Sorted(maps.Keys(names))
	for _, id := range ids {
		q, ok := queues[id]
		if !ok {
			return nil, fmt.Errorf("stack: %s has no %s named %q", templatePath, queueType, id)
		}
		if q.deadLetterQueue != "" && names[q.deadLetterQueue] == "" {
			return nil, fmt.Errorf("stack: queue %s needs its dead-letter queue %s named too", id, q.deadLetterQueue)
		}
	}
	// Dead-letter queues first, so that redrive policies can name their ARNs.
	slices.SortStableFunc(ids, func(a, b string) int {
		return boolRank(queues[a].deadLetterQueue != "") - boolRank(queues[b].deadLetterQueue != "")
	})
	made := make(map[string]Queue, len(ids))
	for _, id := range ids {
		q := queues[id]
		attrs := maps.Clone(q.attributes)
		if q.deadLetterQueue != "" {
			attrs[string(sqstypes.QueueAttributeNameRedrivePolicy)] = fmt.Sprintf(`{"deadLetterTargetArn":%q,"maxReceiveCount":"%d"}`,
				made[q.deadLetterQueue].ARN, q.maxReceiveCount)
		}
		out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(names[id]), Attributes: attrs})
		if err != nil {
			return nil, fmt.Errorf("stack: create queue %s (%s): %w", names[id], id, err)
		}
		got, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
		})
		if err != nil {
			return nil, fmt.Errorf("stack: queue %s ARN: %w", names[id], err)
		}
		made[id] = Queue{URL: aws.ToString(out.QueueUrl), ARN: got.Attributes[string(sqstypes.QueueAttributeNameQueueArn)]}
	}
	return made, nil
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// readQueues decodes the queue properties that shape behaviour: visibility
// timeout, retention, delay, and the redrive policy (whose target must be a
// !GetAtt <Queue>.Arn of another queue in the template).
func readQueues(templatePath string) (map[string]queue, error) {
	nodes, err := resourcesOfType(templatePath, queueType)
	if err != nil {
		return nil, err
	}
	out := make(map[string]queue, len(nodes))
	for id, resource := range nodes {
		props := mappingValue(resource, "Properties")
		q := queue{attributes: map[string]string{}}
		for prop, attr := range map[string]sqstypes.QueueAttributeName{
			"VisibilityTimeout":      sqstypes.QueueAttributeNameVisibilityTimeout,
			"MessageRetentionPeriod": sqstypes.QueueAttributeNameMessageRetentionPeriod,
			"DelaySeconds":           sqstypes.QueueAttributeNameDelaySeconds,
		} {
			if v := mappingValue(props, prop); v != nil {
				if _, err := strconv.Atoi(v.Value); err != nil || v.Kind != yaml.ScalarNode {
					return nil, fmt.Errorf("stack: queue %s: Properties.%s must be a literal number", id, prop)
				}
				q.attributes[string(attr)] = v.Value
			}
		}
		if redrive := mappingValue(props, "RedrivePolicy"); redrive != nil {
			target := mappingValue(redrive, "deadLetterTargetArn")
			if target == nil || target.Tag != "!GetAtt" {
				return nil, fmt.Errorf("stack: queue %s: RedrivePolicy.deadLetterTargetArn must be !GetAtt <Queue>.Arn", id)
			}
			dlq, ok := strings.CutSuffix(target.Value, ".Arn")
			if !ok {
				return nil, fmt.Errorf("stack: queue %s: RedrivePolicy.deadLetterTargetArn must be !GetAtt <Queue>.Arn", id)
			}
			n, err := strconv.Atoi(scalar(mappingValue(redrive, "maxReceiveCount")))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("stack: queue %s: RedrivePolicy.maxReceiveCount must be a positive number", id)
			}
			q.deadLetterQueue, q.maxReceiveCount = dlq, n
		}
		out[id] = q
	}
	for id, q := range out {
		if _, ok := out[q.deadLetterQueue]; q.deadLetterQueue != "" && !ok {
			return nil, fmt.Errorf("stack: queue %s: dead-letter queue %s is not a queue of the template", id, q.deadLetterQueue)
		}
	}
	return out, nil
}

func scalar(n *yaml.Node) string {
	if n == nil {
		return ""
	}
	return n.Value
}
