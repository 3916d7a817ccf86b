package readmodel

import (
	"strings"

	"github.com/papercatalog/papers/repository"
)

// Votes are kept per paper as the set of users who upvoted it, each with the version
// (writer's clock) of the upvote; removed votes leave a tombstone with the version
// of the removal, so a change applied twice, or late, never undoes a newer one.

func voteKey(v repository.Vote) string { return v.PaperID + "|" + v.User }

// HasVote reports whether user has upvoted the paper.
func (m *Model) HasVote(v repository.Vote) bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	_, ok := m.votes[v.PaperID][v.User]
	return ok
}

// VoteState returns whether user has upvoted the paper, and the version of the
// user's latest change of that vote the model knows (0: none).
func (m *Model) VoteState(v repository.Vote) (voted bool, version int64) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if added, ok := m.votes[v.PaperID][v.User]; ok {
		return true, added
	}
	return false, m.unvoted[voteKey(v)]
}

// predates reports whether a vote change of version was made before paper id
// was created: a vote on an earlier paper of the same id, deleted since, whose
// records deletion leaves in the database. Version 0 is a vote stored before
// changes had versions. Callers hold m.mu.
func (m *Model) predates(id string, version int64) bool {
	p, ok := m.papers.get(id)
	return ok && version != 0 && version < p.CreateTime.UnixNano()
}

// AddVote records v as of version. It reports whether the vote was new. A vote
// older than the paper counts as a removal at its version.
func (m *Model) AddVote(v repository.Vote, version int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if removed, ok := m.unvoted[voteKey(v)]; ok && removed >= version {
		return false
	}
	if m.predates(v.PaperID, version) {
		m.unvoted[voteKey(v)] = version
		return false
	}
	users := m.votes[v.PaperID]
	if _, ok := users[v.User]; ok {
		return false
	}
	if users == nil {
		users = map[string]int64{}
		m.votes[v.PaperID] = users
	}
	users[v.User] = version
	delete(m.unvoted, voteKey(v))
	m.recountOne(v.PaperID)
	m.changed()
	return true
}

// RemoveVote removes v as of version. It reports whether a vote was removed.
func (m *Model) RemoveVote(v repository.Vote, version int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if removed, ok := m.unvoted[voteKey(v)]; !ok || removed < version {
		m.unvoted[voteKey(v)] = version
	}
	added, ok := m.votes[v.PaperID][v.User]
	if !ok || added > version {
		return false
	}
	delete(m.votes[v.PaperID], v.User)
	m.recountOne(v.PaperID)
	m.changed()
	return true
}

// ReplaceVotes sets the votes to what the recorded changes say (each user's latest
// change per paper wins), as read from the database by a scan that began at
// version scanStart. Changes the model applied at or after scanStart are merged
// in, the newer change winning, since the scan may have missed them.
func (m *Model) ReplaceVotes(changes []repository.VoteRecord, scanStart int64) {
	latest := make(map[repository.Vote]repository.VoteRecord, len(changes))
	keep := func(r repository.VoteRecord) {
		v := repository.Vote{PaperID: r.PaperID, User: r.User}
		if cur, ok := latest[v]; !ok || r.Version > cur.Version || (r.Version == cur.Version && !r.Added) {
			latest[v] = r
		}
	}
	for _, r := range changes {
		keep(r)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for paper, users := range m.votes {
		for user, version := range users {
			if version >= scanStart {
				keep(repository.VoteRecord{PaperID: paper, User: user, Added: true, Version: version})
			}
		}
	}
	for key, version := range m.unvoted {
		if paper, user, ok := strings.Cut(key, "|"); ok && version >= scanStart {
			keep(repository.VoteRecord{PaperID: paper, User: user, Version: version})
		}
	}
	votes, unvoted := map[string]map[string]int64{}, map[string]int64{}
	for v, r := range latest {
		if !r.Added || m.predates(v.PaperID, r.Version) {
			unvoted[voteKey(v)] = r.Version
			continue
		}
		if votes[v.PaperID] == nil {
			votes[v.PaperID] = map[string]int64{}
		}
		votes[v.PaperID][v.User] = r.Version
	}
	m.votes, m.unvoted = votes, unvoted
	for p := range m.papers.all() {
		m.recount(p.ID)
	}
	m.reset()
}

// recount sets the paper's upvotes to its base count plus its votes, and returns
// the copy it replaced (nil: the count was right). Callers hold m.mu for writing,
// and call changed or reset once they are done.
func (m *Model) recount(id string) (old *repository.Paper) {
	p, ok := m.papers.get(id)
	if !ok {
		return nil
	}
	if n := p.BaseUpvotes + int64(len(m.votes[id])); n != p.Upvotes {
		cp := *p
		cp.Upvotes = n
		m.papers.put(&cp)
		return p
	}
	return nil
}

// recountOne is recount for a change of one paper, which it journals.
func (m *Model) recountOne(id string) {
	if old := m.recount(id); old != nil {
		m.touch(id, old)
	}
}
