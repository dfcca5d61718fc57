package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/rekey/rekey/shared/rekey"
)

// The method set other packages code against; this fails to compile when a
// signature drifts.
var _ interface {
	GetUser(ctx context.Context, id string) (rekey.User, error)
	GetUserByUsername(ctx context.Context, username string) (rekey.User, error)
	GetUserByEmail(ctx context.Context, email string) (rekey.User, error)
	CreateUser(ctx context.Context, u rekey.User, audit *rekey.AuditEntry) error
	UpdateUser(ctx context.Context, before, after rekey.User, audit *rekey.AuditEntry) error
	ListUsers(ctx context.Context, f rekey.UserFilter) (rekey.UserPage, error)
	PutAudit(ctx context.Context, e rekey.AuditEntry) error
	ListAudit(ctx context.Context, targetID string, limit int, cursor string) (rekey.AuditPage, error)
	ListAuditByActor(ctx context.Context, actorID string, limit int, cursor string) (rekey.AuditPage, error)
	PutDistrict(ctx context.Context, d rekey.District) error
	GetDistrict(ctx context.Context, id string) (rekey.District, error)
	PutSchool(ctx context.Context, s rekey.School) error
	GetSchool(ctx context.Context, id string) (rekey.School, error)
	ListSchools(ctx context.Context, districtID string) ([]rekey.School, error)
	PutSession(ctx context.Context, s rekey.Session) error
	GetSession(ctx context.Context, tokenHash string) (rekey.Session, error)
	TouchSession(ctx context.Context, tokenHash string, at time.Time) error
	DeleteSession(ctx context.Context, tokenHash string) error
	ReserveAttempt(ctx context.Context, key string, at time.Time, limit AttemptLimit) (Throttle, bool, error)
	ReleaseAttempt(ctx context.Context, key string, t Throttle) error
	GetThrottle(ctx context.Context, key string) (Throttle, error)
	LockThrottle(ctx context.Context, key string, until time.Time) error
	ClearThrottle(ctx context.Context, key string) error
	Secret(ctx context.Context, name string) ([]byte, error)
} = (*Store)(nil)

// *dynamodb.Client is the natural argument of New.
var _ DB = (*dynamodb.Client)(nil)
