package mail

// Wording is every user-facing string of Rekey's emails in one language,
// keyed by message id ("<kind>.<part>"). A translation is another Wording
// with the same keys (TestEnglishHasEveryString lists them).
//
// Placeholders in braces are filled by Render with the recipient's data:
// {name}, {username}, {link}, {minutes}, {school}, {signInURL}, {time},
// {actor}, {count}, and for a finished task {task}, {status}, {total},
// {succeeded}, {noEmail}, {failed}, {skipped}.
// The text is plain: Render escapes everything for the HTML part, so a
// translation needs no markup and no escaping.
type Wording map[string]string

// English is the wording Rekey ships with.
var English = Wording{
	"common.language":       "en",
	"common.greeting":       "Hello {name},",
	"common.greetingNoName": "Hello,",
	"common.footer":         "This email was sent automatically by Rekey. Please do not reply to it.",
	"common.linkFallback":   "If the button does not work, copy this address into your browser:",
	"common.timeLayout":     "2 January 2006 at 15:04 UTC",

	"reset_link.subject": "Choose a new password",
	"reset_link.intro":   "An administrator started a password reset for your account {username}. Choose a new password with the link below.",
	"reset_link.action":  "Choose a new password",
	"reset_link.expiry":  "The link works once and expires in {minutes} minutes. If it has expired, ask your administrator to send a new one.",

	"forgot_link.subject": "Reset your password",
	"forgot_link.intro":   "Someone asked to reset the password of your account {username}. If it was you, choose a new password with the link below.",
	"forgot_link.action":  "Reset your password",
	"forgot_link.expiry":  "The link works once and expires in {minutes} minutes.",
	"forgot_link.ignore":  "If you did not ask for this, you can ignore this email: your password has not changed.",

	"sso_notice.subject": "How to sign in to your school account",
	"sso_notice.intro":   "Someone asked to reset the password of your account {username}. {school} signs you in with its own single sign-on, so your password cannot be reset here.",
	"sso_notice.action":  "Go to your school sign-in",
	"sso_notice.help":    "If you cannot sign in there, ask your school's IT staff for help.",
	"sso_notice.ignore":  "If you did not ask for this, you can ignore this email.",

	"password_changed.subject": "Your password was changed",
	"password_changed.intro":   "The password of your account {username} was changed on {time}.",
	"password_changed.warning": "If you did not do this, contact your school or district administrator at once.",

	"teacher_bulk_notice.subject": "A teacher reset {count} students' passwords at {school}",
	"teacher_bulk_notice.intro":   "{actor} started a bulk password reset of {count} students at {school}.",
	"teacher_bulk_notice.action":  "Open the task",
	"task_finished.subject":       "Your bulk task finished: {task}",
	"task_finished.intro":         "Your bulk task \u201c{task}\u201d has {status}.",
	"task_finished.counts":        "Of {total} users: {succeeded} reset, {noEmail} without an email address (tell them another way), {failed} failed, {skipped} skipped.",
	"task_finished.action":        "Open the task",
	"task_finished.why":           "You receive this because you started the task or its schedule. The task's page shows each user's result and what their email did since.",

	"status.completed":             "finished",
	"status.completed_with_errors": "finished with errors",
	"status.failed":                "failed",
	"status.cancelled":             "been cancelled",

	"teacher_bulk_notice.why": "You receive this as an administrator of {school}, because a teacher reset more than a handful of students at once. If it was not expected, open the task: you can cancel it while it runs.",
}
