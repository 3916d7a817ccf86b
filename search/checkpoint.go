package search

import "fmt"

// checkpointKey is the internal key under which the index records the read
// model checkpoint it reflects (see Indexer).
var checkpointKey = []byte("papers.readmodel_checkpoint")

// Checkpoint returns the ID of the read model checkpoint the index records it
// reflects (see Indexer), or "" when it records none.
func (ix *Index) Checkpoint() (string, error) {
	v, err := ix.idx.GetInternal(checkpointKey)
	if err != nil {
		return "", fmt.Errorf("read the search index's checkpoint: %w", err)
	}
	return string(v), nil
}

// SetCheckpoint records that the index reflects the read model checkpoint id,
// or, with "", that it reflects none. It returns once the record is on disk,
// after every batch applied before it: the index persists its batches in order.
func (ix *Index) SetCheckpoint(id string) error {
	var err error
	if id == "" {
		err = ix.idx.DeleteInternal(checkpointKey)
	} else {
		err = ix.idx.SetInternal(checkpointKey, []byte(id))
	}
	if err != nil {
		return fmt.Errorf("record the search index's checkpoint: %w", err)
	}
	return nil
}
