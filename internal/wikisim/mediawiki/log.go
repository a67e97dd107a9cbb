package mediawiki

// maxRequests bounds the record of requests kept for Requests.
const maxRequests = 10000

// Request records one request.
type Request struct {
	Method     string   // GET or POST
	Host       string   // the wiki
	Action     string   // the action parameter
	List       string   // the list parameter (logevents)
	Titles     []string // the titles parameter split on "|", as sent
	PageIDs    []string // the pageids parameter split on "|", as sent
	OldID      string   // the oldid parameter
	IMContinue string   // the imcontinue parameter
	Redirects  bool     // whether redirects was present
	Maxlag     bool     // whether maxlag was present
	UserAgent  string
	Status     int    // the HTTP status answered
	Error      string // the API error code answered, if any
}

// Count is the number of requests received since New or Reset.
func (s *Server) Count() int64 { return s.count.Load() }

// Requests returns the latest requests (up to 10000), oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := append([]Request(nil), s.requests[s.next:]...)
	return append(out, s.requests[:s.next]...)
}

// Reset forgets the recorded requests and restarts the count, and with it
// the fault cycles. The Wiki is unchanged.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests, s.next = nil, 0
	s.count.Store(0)
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.requests) < maxRequests {
		s.requests = append(s.requests, r)
		return
	}
	s.requests[s.next] = r
	s.next = (s.next + 1) % maxRequests
}
