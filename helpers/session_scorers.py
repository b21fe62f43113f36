"""Scorers that read the listening session: the session model and the session kNNs.

A *session scorer* follows :class:`helpers.metrics.Scorer` (``name``, ``scores(queries)``)
and adds ``session_scores(sessions int (B, H)) -> float32 (B, V+1)``, where row ``r`` of
``sessions`` holds the query in column 0 and the songs before it in columns 1.. (0 = none;
:func:`helpers.splits.heldout_cases` makes them). ``scores(queries)`` asks with the query
alone (a session of one song). :func:`helpers.metrics.hit_rate_mrr` passes each case's
session when the scorer has ``session_scores``.

* :class:`SessionScorer` – a trained session model (:mod:`helpers.session_model`): its
  logit ``h(session) . output[x] + bias[x]`` (plus ``power * log count`` for the SGNS
  loss), optionally plus a count prior ``prior_weight * log(1 + prior[query, x])``: a
  product of experts of the model's P(next | session) and (1 + the sequential-rule count).
* :class:`SessionKNNScorer` – SKNN / V-SKNN (Ludewig & Jannach 2018): training playlists
  cut into pieces of ``segment`` songs are the "past sessions"; the ``neighbours`` pieces
  whose song sets are most similar (cosine) to the current session's last ``k`` songs vote
  for their songs with their similarity; V-SKNN (``recency=True``) weights the session's
  songs linearly by recency. Yes.com playlists are long radio logs without timestamps,
  hence the pieces and no "most recent sessions" sample.
* :class:`SequenceKNNScorer` – SEQ-KNN, a sequence-aware kNN of our own (in the spirit of
  L&J's S-SKNN / SF-SKNN): every training occurrence of the query is a neighbour, weighted
  ``1 + beta * overlap`` (how many of the session's ``k - 1`` earlier songs are among the
  ``k - 1`` songs before that occurrence); each votes for the ``window`` songs after it,
  weight 1/gap. With ``beta = 0`` it is the sequential rules of
  :func:`helpers.baselines.cooccurrence_matrix` (``directed``, ``inverse_gap``).
* :class:`SequenceMatchScorer` – SEQ-MATCH, ours too: SEQ-KNN's neighbours, each weighted
  ``base ** m`` where ``m`` is how many songs right before that occurrence repeat the
  session's songs in the same order (the run of a running order a station plays again).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from helpers.ranking import check_queries
from helpers.sessions import SessionTables
from helpers.validate import Described, bad_argument, check_bool, check_encoded, check_int, check_real, check_vocab_size
from helpers.windows import Windows

# Defaults of the session methods, declared once (chosen in bench/experiments/RESULTS.md).
SR_WINDOW = 5            # sequential rules: songs after the query that count, weight 1/gap
PRIOR_WEIGHT = 1.0       # weight of log(1 + SR) added to the session model's logit
KNN_DEPTH = 10           # songs of the current session a kNN reads
KNN_NEIGHBOURS = 100     # past sessions that vote (SKNN / V-SKNN)
KNN_SEGMENT = 20         # songs per past session: training playlists cut into pieces
SEQ_BETA = 2.0           # SEQ-KNN: weight of each earlier song shared with an occurrence
SEQ_WINDOW = 3           # SEQ-KNN: songs after an occurrence that get a vote
MATCH_BASE = 4.0         # SEQ-MATCH: each song of the session matched in order multiplies a vote


def check_sessions(sessions, vocab_size: int) -> np.ndarray:
    """Sessions: a 2-D integer array (B, H >= 1) of songs ``0..V`` whose column 0 (the
    queries) is in ``1..V``. Returns it as int64; raises ValueError naming the bad value."""
    s = np.asarray(sessions)
    if s.ndim != 2 or s.shape[1] < 1 or (s.size and not np.issubdtype(s.dtype, np.integer)):
        raise bad_argument("sessions", "a 2-D integer array (cases, songs) with the query in column 0",
                           Described(f"dtype {s.dtype} shape {s.shape}"))
    s = s.astype(np.int64, copy=False)
    check_queries(s[:, 0], vocab_size, "sessions[:, 0]")
    if s.size and (s.min() < 0 or s.max() > vocab_size):
        bad = int(s[(s < 0) | (s > vocab_size)][0])
        raise bad_argument("sessions", f"song indices in 0..{vocab_size} (0 = no song)", bad)
    return s


class SessionScorer:
    """Scores of a trained session model, optionally with a count prior.

    ``tables``: :class:`helpers.sessions.SessionTables` (K slots); ``counts``: int (V+1,)
    training plays, needed when ``power != 0``; ``power``: the noise exponent to add back
    as ``power * log max(count, 1)`` (the SGNS loss's correction; 0 for the softmax loss,
    whose logit already estimates log P(next | session)); ``prior``: sparse (V+1, V+1) or
    None, added as ``prior_weight * log(1 + prior[query])``. A session with fewer than K
    columns leaves the missing slots empty. Raises ValueError for a bad argument.
    """

    def __init__(self, tables: SessionTables, *, counts: np.ndarray | None = None, power: float = 0.0,
                 prior: sparse.spmatrix | None = None, prior_weight: float = PRIOR_WEIGHT,
                 name: str = "session model"):
        if not isinstance(tables, SessionTables):
            raise bad_argument("tables", "a helpers.sessions.SessionTables", Described(f"a {type(tables).__name__}"))
        self.vocab_size = check_vocab_size(tables.vocab_size, 2)
        self.inputs = np.asarray(tables.inputs, dtype=np.float32)
        self.output_t = np.ascontiguousarray(np.asarray(tables.output, dtype=np.float32).T)
        extra = np.zeros(self.vocab_size + 1, dtype=np.float64)
        if tables.bias is not None:
            extra += tables.bias
        power = check_real("power", power)
        if power != 0:
            c = np.asarray(counts if counts is not None else [], dtype=np.float64)
            if c.shape != (self.vocab_size + 1,):
                raise bad_argument("counts", f"training plays of shape ({self.vocab_size + 1},) when power != 0",
                                   Described(f"shape {c.shape}"))
            extra += power * np.log(np.maximum(c, 1.0))
        self.extra = extra.astype(np.float32)
        self.prior_weight = check_real("prior_weight", prior_weight, 0)
        self.prior = None
        if prior is not None:
            self.prior = sparse.csr_matrix(prior)
            if self.prior.shape != (self.vocab_size + 1,) * 2:
                raise bad_argument("prior", f"a sparse matrix of shape ({self.vocab_size + 1}, {self.vocab_size + 1})",
                                   Described(f"shape {self.prior.shape}"))
        self.name = name

    def session_scores(self, sessions) -> np.ndarray:
        """float32 (B, V+1) for int (B, H) sessions (column 0 = the query)."""
        s = check_sessions(sessions, self.vocab_size)
        h = np.zeros((s.shape[0], self.inputs.shape[2]), dtype=np.float32)
        for j in range(min(s.shape[1], self.inputs.shape[0])):
            present = s[:, j] > 0
            h[present] += self.inputs[j, s[present, j]]
        out = h @ self.output_t
        out += self.extra
        if self.prior is not None and self.prior_weight > 0:
            out += (self.prior_weight * np.log1p(self.prior[s[:, 0]].toarray())).astype(np.float32)
        return out

    def scores(self, queries) -> np.ndarray:
        """float32 (B, V+1): the model asked with each query alone."""
        q = check_queries(queries, self.vocab_size)
        return self.session_scores(q[:, None])


def _pieces(train_encoded: Sequence[np.ndarray], vocab_size: int, segment: int) -> tuple[np.ndarray, np.ndarray]:
    """The songs of each past session (a piece of ``segment`` songs of one playlist):
    ``(piece id int64 (N,), song int64 (N,))``."""
    flat, lengths = check_encoded("train_encoded", train_encoded, vocab_size)
    before = Windows(lengths).before
    # A new piece starts at every playlist start and every `segment` songs into a playlist.
    starts = before % segment == 0
    return np.cumsum(starts) - 1, flat.astype(np.int64)


class SessionKNNScorer:
    """SKNN, or V-SKNN with ``recency=True``; see the module docstring.

    ``train_encoded``: list of int arrays, training playlists of song indices 1..V;
    ``vocab_size``: V; ``k``: songs of the current session read (the query and ``k - 1``
    before it); ``neighbours``: past sessions that vote; ``segment``: songs per past
    session. A song the session holds twice counts once, with its most recent weight.
    """

    def __init__(self, train_encoded: Sequence[np.ndarray], vocab_size: int, k: int = KNN_DEPTH,
                 neighbours: int = KNN_NEIGHBOURS, segment: int = KNN_SEGMENT, recency: bool = False,
                 name: str | None = None):
        self.vocab_size = check_vocab_size(vocab_size, 2)
        self.k = check_int("k", k, 1)
        self.neighbours = check_int("neighbours", neighbours, 1)
        segment = check_int("segment", segment, 1)
        self.recency = check_bool("recency", recency)
        piece, song = _pieces(train_encoded, self.vocab_size, segment)
        n_pieces = int(piece[-1]) + 1 if piece.size else 0
        m = sparse.csr_matrix((np.ones(piece.size, np.float32), (piece, song)), shape=(n_pieces, self.vocab_size + 1))
        m.data[:] = 1.0  # a set of songs: repeats were summed
        self.pieces = m
        self.piece_sizes = np.diff(m.indptr).astype(np.float32)
        self.by_song = m.T.tocsr()
        self.name = name or (f"{'V-SKNN' if recency else 'SKNN'} (last {k} songs, {neighbours} neighbours, "
                             f"pieces of {segment})")

    def session_scores(self, sessions) -> np.ndarray:
        """float32 (B, V+1) for int (B, H) sessions (column 0 = the query)."""
        s = check_sessions(sessions, self.vocab_size)[:, : self.k]
        b, k = s.shape
        # Slot j (j songs before the query) weighs (k - j) / k with recency, else 1.
        w = ((k - np.arange(k)) / k if self.recency else np.ones(k)).astype(np.float32)
        r, c = np.nonzero(s)
        # Slots run from the most recent, so the first occurrence of a song is its latest.
        key = r * (self.vocab_size + 1) + s[r, c]
        _, first = np.unique(key, return_index=True)
        r, c = r[first], c[first]
        current = sparse.csr_matrix((w[c], (r, s[r, c])), shape=(b, self.vocab_size + 1))
        n_items = np.diff(current.indptr).astype(np.float32)
        sims = (current @ self.by_song).tocsr()                      # (B, pieces)
        rows, cols, vals = [], [], []
        for i in range(b):
            lo, hi = sims.indptr[i], sims.indptr[i + 1]
            if lo == hi:
                continue
            cand = sims.indices[lo:hi]
            val = sims.data[lo:hi] / np.sqrt(n_items[i] * self.piece_sizes[cand])
            if cand.size > self.neighbours:
                top = np.argpartition(-val, self.neighbours - 1)[: self.neighbours]
                cand, val = cand[top], val[top]
            rows.append(np.full(cand.size, i))
            cols.append(cand)
            vals.append(val)
        if not rows:
            return np.zeros((b, self.vocab_size + 1), dtype=np.float32)
        votes = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                  shape=(b, self.pieces.shape[0]))
        return (votes @ self.pieces).toarray().astype(np.float32)

    def scores(self, queries) -> np.ndarray:
        """float32 (B, V+1): the query alone as the session."""
        return self.session_scores(check_queries(queries, self.vocab_size)[:, None])


class SequenceKNNScorer:
    """SEQ-KNN; see the module docstring.

    ``train_encoded``: list of int arrays, training playlists of song indices 1..V;
    ``vocab_size``: V; ``k``: songs of the session read (the query and ``k - 1`` before
    it); ``beta``: weight of each earlier song an occurrence shares with the session;
    ``window``: songs after an occurrence that get a vote, weight 1/gap.
    """

    def __init__(self, train_encoded: Sequence[np.ndarray], vocab_size: int, k: int = KNN_DEPTH,
                 beta: float = SEQ_BETA, window: int = SEQ_WINDOW, name: str | None = None):
        self.vocab_size = check_vocab_size(vocab_size, 2)
        self.k = check_int("k", k, 1)
        self.beta = check_real("beta", beta, 0)
        self.window = check_int("window", window, 1)
        flat, lengths = check_encoded("train_encoded", train_encoded, self.vocab_size)
        windows = Windows(lengths)
        self.order = np.argsort(flat, kind="stable")
        self.starts = np.searchsorted(flat[self.order], np.arange(self.vocab_size + 2))
        n = flat.size
        # Songs before / after every position (0 outside its playlist).
        self.before = np.zeros((n, max(self.k - 1, 1)), dtype=np.int64)
        for j in range(1, self.k):
            i = windows.partners(-j)
            self.before[i, j - 1] = flat[i - j]
        self.after = np.zeros((n, self.window), dtype=np.int64)
        for g in range(1, self.window + 1):
            i = windows.partners(g)
            self.after[i, g - 1] = flat[i + g]
        self.gap_weight = 1.0 / np.arange(1, self.window + 1)
        self.name = name or f"SEQ-KNN (last {k} songs, beta {beta:g}, {window} songs after)"

    def session_scores(self, sessions) -> np.ndarray:
        """float32 (B, V+1) for int (B, H) sessions (column 0 = the query)."""
        s = check_sessions(sessions, self.vocab_size)
        out = np.zeros((s.shape[0], self.vocab_size + 1), dtype=np.float32)
        for r in range(s.shape[0]):
            q = s[r, 0]
            occ = self.order[self.starts[q]:self.starts[q + 1]]
            if occ.size == 0:
                continue
            weights = self._occurrence_weights(occ, s[r, 1: self.k])
            votes = (weights[:, None] * self.gap_weight[None, :]).ravel()
            songs = self.after[occ].ravel()
            keep = songs > 0
            out[r] = np.bincount(songs[keep], votes[keep], minlength=self.vocab_size + 1)
        return out

    def _occurrence_weights(self, occ: np.ndarray, earlier: np.ndarray) -> np.ndarray:
        """float (len(occ),) for the occurrences ``occ`` of the query: 1 + beta x how many
        of the session's ``earlier`` songs (int (k-1,), 0 = unknown) are among the k - 1
        songs before each."""
        earlier = earlier[earlier > 0]
        if not earlier.size:
            return np.ones(occ.size)
        return 1.0 + self.beta * np.isin(self.before[occ], earlier).sum(axis=1)

    def scores(self, queries) -> np.ndarray:
        """float32 (B, V+1): the query alone as the session (sequential rules over ``window``)."""
        return self.session_scores(check_queries(queries, self.vocab_size)[:, None])


class SequenceMatchScorer(SequenceKNNScorer):
    """SEQ-MATCH; see the module docstring. The arguments of :class:`SequenceKNNScorer`,
    with ``base`` (> 1) in place of ``beta``: an occurrence whose ``m`` songs before it equal
    the session's ``m`` earlier songs, in order and without a gap, votes ``base ** m`` (an
    unknown song, 0, matches nothing)."""

    def __init__(self, train_encoded: Sequence[np.ndarray], vocab_size: int, k: int = KNN_DEPTH,
                 base: float = MATCH_BASE, window: int = SEQ_WINDOW, name: str | None = None):
        self.base = check_real("base", base, 1, low_open=True)
        super().__init__(train_encoded, vocab_size, k=k, beta=0.0, window=window,
                         name=name or f"SEQ-MATCH (last {k} songs in order, base {base:g}, {window} songs after)")

    def _occurrence_weights(self, occ: np.ndarray, earlier: np.ndarray) -> np.ndarray:
        """float (len(occ),): ``base ** m``, ``m`` the length of the unbroken run of the
        session's ``earlier`` songs matched, in order, by the songs before each occurrence."""
        if not earlier.size:
            return np.ones(occ.size)
        same = (self.before[occ, : earlier.size] == earlier[None, :]) & (earlier[None, :] > 0)
        return self.base ** np.cumprod(same, axis=1).sum(axis=1)
