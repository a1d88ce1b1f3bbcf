/* encode.c: one piece of text -> token ids, by rank-based byte-pair merging (tiktoken's rule).
 *
 * A rank table maps byte strings to token ids; a lower rank means the merge was learned
 * earlier. To encode a piece:
 *
 *   1. start with one part per byte:          h  e  l  l  o
 *   2. look at every adjacent pair of parts and the rank of their concatenation;
 *   3. merge the pair with the lowest rank (the leftmost one on a tie):   h  e  ll  o
 *   4. repeat 2-3 until no adjacent pair is in the table;                 hell o  ->  hello
 *   5. each remaining part is a token: its id is its rank.
 *
 * Short pieces (nearly all of them) use the simple array version of tiktoken's
 * `_byte_pair_merge`: O(n^2) but tiny n, and no allocation. Long pieces (a 50 KB run of
 * digits or base64) would make that quadratic, so they use a linked list of parts plus a
 * min-heap of candidate merges: O(n log n), same merges in the same order.
 */
#include "fastbpe.h"

#include <stdlib.h>

#define NO_RANK INT64_MAX
#define SHORT_PIECE 128 /* bytes; longer pieces take the heap version */

/* The rank of piece[a:b], or NO_RANK if those bytes are not a token. */
static inline int64_t rank_of(const BytesMap *ranks, const unsigned char *piece, size_t a, size_t b) {
    const BMEntry *e = bm_find(ranks, piece + a, b - a);
    return e ? e->value : NO_RANK;
}

/* Step 5 for one part: its rank is its id; a part with no rank is an error for the caller. */
static int emit(const BytesMap *ranks, const unsigned char *piece, size_t a, size_t b, IntVec *out,
                size_t *missing_at, size_t *missing_len) {
    int64_t r = rank_of(ranks, piece, a, b);
    if (r == NO_RANK) {
        *missing_at = a;
        *missing_len = b - a;
        return FB_MISSING_RANK;
    }
    return iv_push(out, (int32_t)r) < 0 ? FB_NOMEM : FB_OK;
}

/* The array version. bounds[0..m-1] are the part boundaries (part k is piece[bounds[k]:bounds[k+1]])
 * and rank[k] is the rank of parts k and k+1 merged. */
static int encode_short(const BytesMap *ranks, const unsigned char *piece, size_t n, IntVec *out,
                        size_t *missing_at, size_t *missing_len) {
    size_t bounds[SHORT_PIECE + 1];
    int64_t rank[SHORT_PIECE + 1];
    size_t m = n + 1; /* 1. one part per byte: boundaries 0, 1, ..., n */
    for (size_t k = 0; k < m; k++) bounds[k] = k;
    for (size_t k = 0; k + 2 < m; k++) rank[k] = rank_of(ranks, piece, k, k + 2);
    for (;;) {
        /* 2. find the lowest-ranked pair (strict <, so the leftmost wins a tie) */
        size_t best = 0;
        int64_t best_rank = NO_RANK;
        for (size_t k = 0; k + 2 < m; k++)
            if (rank[k] < best_rank) best_rank = rank[k], best = k;
        if (best_rank == NO_RANK) break; /* 4. nothing left to merge */
        /* 3. merge parts best and best+1: drop boundary best+1 */
        for (size_t k = best + 1; k + 1 < m; k++) {
            bounds[k] = bounds[k + 1];
            rank[k] = rank[k + 1];
        }
        m--;
        /* only the pairs that touch the merged part change */
        rank[best] = best + 2 < m ? rank_of(ranks, piece, bounds[best], bounds[best + 2]) : NO_RANK;
        if (best > 0) rank[best - 1] = rank_of(ranks, piece, bounds[best - 1], bounds[best + 1]);
    }
    for (size_t k = 0; k + 1 < m; k++) { /* 5. */
        int rc = emit(ranks, piece, bounds[k], bounds[k + 1], out, missing_at, missing_len);
        if (rc != FB_OK) return rc;
    }
    return FB_OK;
}

/* ---- the heap version ------------------------------------------------------------------------ */

/* A candidate merge: the pair whose left part starts at byte `start`, with its rank then. */
typedef struct {
    int64_t rank;
    size_t start;
} Candidate;

/* Heap order: lower rank first, then the leftmost; exactly the choice the array version makes. */
static inline int cand_before(Candidate a, Candidate b) {
    return a.rank < b.rank || (a.rank == b.rank && a.start < b.start);
}

static void heap_push(Candidate *heap, size_t *len, Candidate c) {
    size_t i = (*len)++;
    while (i > 0 && cand_before(c, heap[(i - 1) / 2])) { /* sift up */
        heap[i] = heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap[i] = c;
}

static Candidate heap_pop(Candidate *heap, size_t *len) {
    Candidate top = heap[0], last = heap[--(*len)];
    size_t i = 0;
    for (;;) { /* sift `last` down from the root */
        size_t child = 2 * i + 1;
        if (child >= *len) break;
        if (child + 1 < *len && cand_before(heap[child + 1], heap[child])) child++;
        if (!cand_before(heap[child], last)) break;
        heap[i] = heap[child];
        i = child;
    }
    if (*len) heap[i] = last;
    return top;
}

/* Parts form a linked list indexed by their first byte: next[s] is where the part starting at
 * s ends (n for the last part), prev[s] where the previous part starts. pair_rank[s] is the
 * current rank of the pair (part s, part next[s]); a heap entry is stale, and skipped, when the
 * part is gone (alive[s] == 0) or its pair rank has changed since the entry was pushed. */
static int encode_long(const BytesMap *ranks, const unsigned char *piece, size_t n, IntVec *out,
                       size_t *missing_at, size_t *missing_len) {
    size_t *next = malloc(n * sizeof *next), *prev = malloc(n * sizeof *prev);
    int64_t *pair_rank = malloc(n * sizeof *pair_rank);
    unsigned char *alive = malloc(n);
    /* each merge pushes at most 2 entries, on top of the n - 1 initial ones */
    Candidate *heap = malloc(3 * n * sizeof *heap);
    size_t heap_len = 0;
    int rc = FB_NOMEM;
    if (!next || !prev || !pair_rank || !alive || !heap) goto done;

    /* 1-2. one part per byte; push every adjacent pair that has a rank */
    for (size_t s = 0; s < n; s++) {
        next[s] = s + 1;
        prev[s] = s - 1; /* unused for s == 0 */
        alive[s] = 1;
        pair_rank[s] = s + 2 <= n ? rank_of(ranks, piece, s, s + 2) : NO_RANK;
        if (pair_rank[s] != NO_RANK) heap_push(heap, &heap_len, (Candidate){pair_rank[s], s});
    }
    while (heap_len) {
        /* 3. the lowest-ranked candidate that is still current */
        Candidate c = heap_pop(heap, &heap_len);
        size_t s = c.start;
        if (!alive[s] || pair_rank[s] != c.rank) continue;
        size_t q = next[s]; /* merge part q into part s */
        alive[q] = 0;
        next[s] = next[q];
        if (next[s] < n) prev[next[s]] = s;
        /* the pairs (s, its new next) and (prev, s) changed; push their new ranks */
        pair_rank[s] = next[s] < n ? rank_of(ranks, piece, s, next[next[s]]) : NO_RANK;
        if (pair_rank[s] != NO_RANK) heap_push(heap, &heap_len, (Candidate){pair_rank[s], s});
        if (s > 0) {
            size_t p = prev[s];
            pair_rank[p] = rank_of(ranks, piece, p, next[s]);
            if (pair_rank[p] != NO_RANK) heap_push(heap, &heap_len, (Candidate){pair_rank[p], p});
        }
    }
    rc = FB_OK; /* 5. */
    for (size_t s = 0; s < n && rc == FB_OK; s = next[s])
        rc = emit(ranks, piece, s, next[s], out, missing_at, missing_len);
done:
    free(next);
    free(prev);
    free(pair_rank);
    free(alive);
    free(heap);
    return rc;
}

int fb_bpe_encode_piece(const BytesMap *ranks, const unsigned char *piece, size_t n, IntVec *out,
                        size_t *missing_at, size_t *missing_len) {
    if (n == 0) return FB_OK;
    if (n <= SHORT_PIECE) return encode_short(ranks, piece, n, out, missing_at, missing_len);
    return encode_long(ranks, piece, n, out, missing_at, missing_len);
}
