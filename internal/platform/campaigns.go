package platform

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Page is one page of GET /api/campaigns. Records stay raw: each is
// validated separately by its consumer, so one bad record never fails its
// page; only the envelope is checked here.
type Page struct {
	// Data holds the page's campaign records as the platform sent them.
	Data []json.RawMessage `json:"data"`
	// Pagination says where the page sits and whether another follows.
	Pagination Pagination `json:"pagination"`
}

// Pagination is the platform's paging envelope. HasMore, not Total, is the
// truth about whether another page exists: Total may grow between calls.
type Pagination struct {
	// Page is the page number, starting at 1.
	Page int `json:"page"`
	// Limit is the page size the platform applied.
	Limit int `json:"limit"`
	// Total is the number of campaigns at the time of this call.
	Total int `json:"total"`
	// HasMore reports whether a further page exists.
	HasMore bool `json:"has_more"`
}

// ListCampaigns fetches one page (from 1) of clientID's campaigns with limit
// records per page. An envelope that breaks the contract (missing or
// mistyped data or pagination members, or a different page than asked for)
// is a permanent error naming the member.
func (c *Client) ListCampaigns(ctx context.Context, clientID string, page, limit int) (*Page, error) {
	op := fmt.Sprintf("list campaigns page %d", page)
	if page < 1 || limit < 1 {
		return nil, &Error{Kind: KindPermanent, Op: op,
			Err: fmt.Errorf("page and limit start at 1, got page %d limit %d", page, limit)}
	}
	u := c.base.JoinPath("api", "campaigns")
	u.RawQuery = url.Values{"page": {strconv.Itoa(page)}, "limit": {strconv.Itoa(limit)}}.Encode()
	var p *Page
	err := c.call(ctx, request{
		op:       op,
		endpoint: "list",
		clientID: clientID,
		method:   http.MethodGet,
		url:      u.String(),
	}, func(body []byte) (err error) {
		p, err = decodePage(body, page)
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// decodePage checks a page envelope member by member.
func decodePage(body []byte, page int) (*Page, error) {
	p, err := pageFields(body)
	if err == nil && p.Pagination.Page != page {
		// A platform that ignores ?page= would otherwise send us round
		// page 1 forever while has_more stays true.
		err = fmt.Errorf("pagination.page: got %d, asked for %d", p.Pagination.Page, page)
	}
	if err != nil {
		return nil, fmt.Errorf("decode page: %w", err)
	}
	return p, nil
}

// pageFields reads data and pagination.
func pageFields(body []byte) (*Page, error) {
	f, err := decodeObject(body, "")
	if err != nil {
		return nil, err
	}
	var p Page
	if p.Data, err = f.array("data"); err != nil {
		return nil, err
	}
	pg, err := f.object("pagination")
	if err != nil {
		return nil, err
	}
	if p.Pagination.Page, err = pg.int("page"); err != nil {
		return nil, err
	}
	if p.Pagination.Limit, err = pg.int("limit"); err != nil {
		return nil, err
	}
	if p.Pagination.Total, err = pg.int("total"); err != nil {
		return nil, err
	}
	if p.Pagination.HasMore, err = pg.bool("has_more"); err != nil {
		return nil, err
	}
	return &p, nil
}

// SyncResult is the platform's answer to a per-campaign sync call.
type SyncResult struct {
	// CampaignID is the campaign the platform synced; always the one asked for.
	CampaignID string
	// SyncedAt is the platform's time of the sync.
	SyncedAt time.Time
	// Message is the platform's remark, cleaned up like Error.Code.
	Message string
}

// errSyncNotDone is the cause of a 200 sync answer with success=false.
var errSyncNotDone = errors.New("sync not done (success=false)")

// SyncCampaign asks the platform to sync one campaign (POST
// /api/campaigns/{id}/sync; slow on purpose, about 2 s). A 200 answer with
// success=false is a transient error: the platform reports a failure it did
// not explain, and a sync call is safe to repeat, so the task's bounded
// retries decide, and the dead-letter queue catches one that never succeeds.
func (c *Client) SyncCampaign(ctx context.Context, clientID, campaignID string) (*SyncResult, error) {
	op := "sync campaign " + sanitize(campaignID)
	if campaignID == "" || campaignID == "." || campaignID == ".." {
		// Dot segments would be cleaned out of the path, syncing something else.
		return nil, &Error{Kind: KindPermanent, Op: op, Err: errors.New("invalid campaign id")}
	}
	u := c.base.JoinPath("api", "campaigns", url.PathEscape(campaignID), "sync")
	var res *SyncResult
	err := c.call(ctx, request{
		op:       op,
		endpoint: "sync",
		clientID: clientID,
		method:   http.MethodPost,
		url:      u.String(),
		body:     []byte("{}"),
	}, func(body []byte) (err error) {
		res, err = decodeSync(body, campaignID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// decodeSync checks a sync answer member by member.
func decodeSync(body []byte, campaignID string) (*SyncResult, error) {
	res, err := syncFields(body, campaignID)
	var e *Error
	if err != nil && !errors.As(err, &e) {
		err = fmt.Errorf("decode sync: %w", err)
	}
	return res, err
}

// syncFields reads success, campaign_id, synced_at and message. With
// success=false it returns a transient *Error carrying the platform's
// "error" member as its (not yet sanitised) Code.
func syncFields(body []byte, campaignID string) (*SyncResult, error) {
	f, err := decodeObject(body, "")
	if err != nil {
		return nil, err
	}
	ok, err := f.bool("success")
	if err != nil {
		return nil, err
	}
	if !ok {
		code, _, _ := f.optionalString("error")
		return nil, &Error{Kind: KindTransient, Code: code, Err: errSyncNotDone}
	}
	id, err := f.string("campaign_id")
	if err != nil {
		return nil, err
	}
	if id != campaignID {
		return nil, errors.New("campaign_id: does not match the campaign asked for")
	}
	at, err := f.string("synced_at")
	if err != nil {
		return nil, err
	}
	syncedAt, err := time.Parse(time.RFC3339, at)
	if err != nil {
		return nil, errors.New("synced_at: expected an RFC 3339 time")
	}
	msg, _, err := f.optionalString("message")
	if err != nil {
		return nil, err
	}
	return &SyncResult{CampaignID: id, SyncedAt: syncedAt, Message: sanitize(msg)}, nil
}
