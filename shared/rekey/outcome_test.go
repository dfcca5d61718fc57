package rekey

import "testing"

func TestCheckOutcome(t *testing.T) {
	for _, test := range []struct {
		name string
		run  ScheduleRun
		ok   bool
	}{
		{"started with its task", ScheduleRun{ClaimID: "c", State: RunStarted, TaskID: "t"}, true},
		{"failed with its reason", ScheduleRun{ClaimID: "c", State: RunFailed, Reason: "r"}, true},
		{"no claim", ScheduleRun{State: RunStarted, TaskID: "t"}, false},
		{"started without a task", ScheduleRun{ClaimID: "c", State: RunStarted}, false},
		{"failed without a reason", ScheduleRun{ClaimID: "c", State: RunFailed}, false},
		{"still claimed", ScheduleRun{ClaimID: "c", State: RunClaimed}, false},
	} {
		if err := test.run.CheckOutcome(); (err == nil) != test.ok {
			t.Errorf("run %s: CheckOutcome() = %v, want ok %v", test.name, err, test.ok)
		}
	}
	for _, test := range []struct {
		name string
		d    MailDelivery
		ok   bool
	}{
		{"sent", MailDelivery{ClaimID: "c", State: DeliverySent}, true},
		{"skipped", MailDelivery{ClaimID: "c", State: DeliverySkipped}, true},
		{"pending again", MailDelivery{ClaimID: "c", State: DeliveryPending}, true},
		{"still sending", MailDelivery{ClaimID: "c", State: DeliverySending}, false},
		{"no claim", MailDelivery{State: DeliverySent}, false},
	} {
		if err := test.d.CheckOutcome(); (err == nil) != test.ok {
			t.Errorf("delivery %s: CheckOutcome() = %v, want ok %v", test.name, err, test.ok)
		}
	}
}
