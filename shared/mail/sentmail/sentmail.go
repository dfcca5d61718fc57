// Package sentmail reads the emails that a moto server's emulated SES
// accepted, from its GET /moto-api/data.json: for integration tests, and
// for the local runner's GET /_local/mail. Moto keeps, per email, the
// sender, subject, recipients and one body (the HTML part when both were
// sent), in the order they were sent; it keeps no send time.
package sentmail

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// Email is one email as moto recorded it.
type Email struct {
	ID      string   // the SES message id
	From    string   // source
	To      []string // destinations.ToAddresses
	Subject string
	Body    string // the HTML part when the email had one
}

// motoData is the part of data.json that holds SES messages.
type motoData struct {
	SES struct {
		Message []struct {
			ID           string `json:"id"`
			Source       string `json:"source"`
			Subject      string `json:"subject"`
			Body         string `json:"body"`
			Destinations struct {
				ToAddresses []string `json:"ToAddresses"`
			} `json:"destinations"`
		} `json:"Message"`
	} `json:"ses"`
}

// Read returns every email moto at endpoint (e.g. "http://127.0.0.1:5000",
// as in AWS_ENDPOINT_URL) has accepted, oldest first.
func Read(ctx context.Context, client *http.Client, endpoint string) ([]Email, error) {
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(endpoint, "/")+"/moto-api/data.json", nil)
	if err != nil {
		return nil, fmt.Errorf("sentmail: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("sentmail: read moto data: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sentmail: read moto data: status %s", resp.Status)
	}
	var data motoData
	if err := json.NewDecoder(resp.Body).Decode(&data); err != nil {
		return nil, fmt.Errorf("sentmail: decode moto data: %w", err)
	}
	emails := make([]Email, 0, len(data.SES.Message))
	for _, m := range data.SES.Message {
		emails = append(emails, Email{ID: m.ID, From: m.Source, To: m.Destinations.ToAddresses, Subject: m.Subject, Body: m.Body})
	}
	return emails, nil
}

// To returns the emails among emails addressed to address.
func To(emails []Email, address string) []Email {
	var out []Email
	for _, e := range emails {
		for _, to := range e.To {
			if strings.EqualFold(to, address) {
				out = append(out, e)
				break
			}
		}
	}
	return out
}
