// Package tasks defines adsync's asynq task types, their payloads and their
// queues, and enqueues them. Payloads carry ids and campaign data only, never
// a credential: asynqmon shows payloads to whoever opens it.
package tasks

import (
	"encoding/json"
	"fmt"
)

// Task types.
const (
	// TypeFetchPage fetches one page of a client's campaign list and fans
	// its records out as save tasks.
	TypeFetchPage = "campaigns:fetch_page"
	// TypeSave validates one campaign record, makes the platform's sync call
	// and upserts the campaign.
	TypeSave = "campaigns:save"
)

// Queues and their weights. A listing's first page has a queue of its own,
// polled first nearly every time: its run waits on it, and it would
// otherwise queue behind the work that running runs fan out (hundreds of
// tasks when fifty runs start together). Save tasks weigh more than pages
// so a run's records drain (and memory stays bounded) before more pages
// fan out; pages still get a share of every poll, so they never starve.
const (
	QueueStarts = "starts"
	QueueSaves  = "saves"
	QueuePages  = "pages"
)

// Queues lists adsync's queues.
var Queues = []string{QueueStarts, QueueSaves, QueuePages}

// PageQueues lists the queues that hold fetch-page tasks (see PageQueue).
var PageQueues = []string{QueueStarts, QueuePages}

// QueueWeights is the asynq queue configuration of every worker.
var QueueWeights = map[string]int{QueueStarts: 60, QueueSaves: 6, QueuePages: 3}

// PageQueue is the queue of the task that fetches page of a listing pass:
// QueueStarts for the first page, QueuePages for the others.
func PageQueue(page int) string {
	if page == 1 {
		return QueueStarts
	}
	return QueuePages
}

// FetchPage is the payload of a TypeFetchPage task.
type FetchPage struct {
	RunID    int64  `json:"run_id"`
	ClientID string `json:"client_id"`
	Page     int    `json:"page"`
	PageSize int    `json:"page_size"`
}

// Save is the payload of a TypeSave task: the record exactly as the platform
// sent it, validated only when the task runs so a bad one is dead-lettered
// on its own with its reason.
type Save struct {
	RunID    int64           `json:"run_id"`
	ClientID string          `json:"client_id"`
	Page     int             `json:"page"`
	ItemKey  string          `json:"item_key"`
	Record   json.RawMessage `json:"record"`
}

// FetchPageID is the task id of a page of a run: enqueueing the same page of
// the same run twice is a no-op while the first is queued or running. Ids
// hold no "-" before the record's key: asynqmon's list cuts ids at the
// first one.
func FetchPageID(runID int64, page int) string { return fmt.Sprintf("run%d:page%d", runID, page) }

// SaveID is the task id of one record of a run.
func SaveID(runID int64, itemKey string) string { return fmt.Sprintf("run%d:save:%s", runID, itemKey) }

// DecodeFetchPage decodes and checks a TypeFetchPage payload.
func DecodeFetchPage(b []byte) (FetchPage, error) {
	var p FetchPage
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("decode %s payload: %w", TypeFetchPage, err)
	}
	if p.RunID <= 0 || p.ClientID == "" || p.Page < 1 || p.PageSize < 1 {
		return p, fmt.Errorf("decode %s payload: run_id, client_id, page and page_size are required", TypeFetchPage)
	}
	return p, nil
}

// DecodeSave decodes and checks a TypeSave payload.
func DecodeSave(b []byte) (Save, error) {
	var p Save
	if err := json.Unmarshal(b, &p); err != nil {
		return p, fmt.Errorf("decode %s payload: %w", TypeSave, err)
	}
	if p.RunID <= 0 || p.ClientID == "" || p.ItemKey == "" || len(p.Record) == 0 {
		return p, fmt.Errorf("decode %s payload: run_id, client_id, item_key and record are required", TypeSave)
	}
	return p, nil
}
